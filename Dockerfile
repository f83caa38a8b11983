# The image docker-compose.yml runs for migrate, web and worker.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY exercises ./exercises
COPY service ./service
COPY worker ./worker
COPY migrations ./migrations
RUN pip install ".[service]"
USER nobody
EXPOSE 8000
CMD ["backprop-quiz", "serve"]
