// Starts Swagger UI on the API docs page (templates/api/docs.html). A static file, not inline
// script: the page runs under the site's Content-Security-Policy.
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    // Tokens typed into "Authorize" stay in this page only, never in localStorage.
    persistAuthorization: false,
    // "Try it out" sends the token only: the API ignores the session cookie anyway.
    withCredentials: false,
    // The schema validator badge would call an outside service.
    validatorUrl: null,
  });
})();
