# Development image: installs TicketFlower and waits. Start the server yourself:
#   docker compose exec web python manage.py runserver 0.0.0.0:8000
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .

EXPOSE 8000
# Idle on purpose: the server is started and stopped by hand (see README).
CMD ["sleep", "infinity"]
