# Development image: installs TicketFlower and waits. Start the server yourself:
#   docker compose exec web python manage.py runserver 0.0.0.0:8000

# The layout runtime and compiler, from the committed lock file.
FROM node:20-slim AS layouts
WORKDIR /runtime
COPY ticketflower/layouts/runtime/package.json ticketflower/layouts/runtime/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY ticketflower/layouts/runtime/ ./
RUN node build.mjs

FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
# esbuild compiles layouts at run time (a static binary); the built runtime is served by the app.
COPY --from=layouts /runtime/node_modules ticketflower/layouts/runtime/node_modules
COPY --from=layouts /static/layouts ticketflower/layouts/static/layouts
# The assistant's gate renders every layout in Node (ticketflower/layouts/render.py): the render
# runtime, and Node itself from the same official image (it needs libstdc++ beside it).
COPY --from=layouts /runtime/dist ticketflower/layouts/runtime/dist
COPY --from=layouts /usr/local/bin/node /usr/local/bin/node
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libstdc++6 \
    && rm -rf /var/lib/apt/lists/* && node --version

EXPOSE 8000
# Idle on purpose: the server is started and stopped by hand (see README).
CMD ["sleep", "infinity"]
