# Two images from one file (docker-compose.yml picks one per service):
#   target "development": TicketFlower installed, idle; start the server yourself:
#     docker compose --profile dev exec web python manage.py runserver 0.0.0.0:8000
#   target "production": static files collected, gunicorn serving (config/gunicorn.py), as a
#     user without rights to the code; the job worker runs the same image with another command.

# The layout runtime and compiler, from the committed lock file.
FROM node:20-slim AS layouts
WORKDIR /runtime
COPY ticketflower/layouts/runtime/package.json ticketflower/layouts/runtime/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY ticketflower/layouts/runtime/ ./
RUN node build.mjs

FROM python:3.13-slim AS base

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
# CODE tasks run in a bubblewrap sandbox (docs/code-tasks.md).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libstdc++6 bubblewrap \
    && rm -rf /var/lib/apt/lists/* && node --version
EXPOSE 8000

FROM base AS production
# Hashed, compressed static files, served by WhiteNoise with far-future caching. The build
# needs a secret key to load the settings; the real one comes from the environment.
ENV DEBUG=false \
    STATIC_MANIFEST=true \
    DATA_DIR=/data
RUN SECRET_KEY=build-only-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
    ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /data ticketflower \
    && mkdir -p /data && chown ticketflower /data
USER ticketflower
VOLUME ["/data"]
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]

FROM base AS development
# Idle on purpose: the server is started and stopped by hand (see README).
CMD ["sleep", "infinity"]
