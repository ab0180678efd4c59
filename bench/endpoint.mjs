// The action endpoint for bench/engine.py: answers every POST with {"ref": "ok"}.
// Node rather than a Python thread in the bench process, so the endpoint takes little of the
// CPU the engine is measured on. Prints the port it listens on, then serves until killed.
import http from "node:http";

const server = http.createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    const body = '{"ref": "ok"}';
    response.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length });
    response.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
