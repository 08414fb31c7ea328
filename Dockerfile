# Bingan application image for the scale-out deployment (compose.yaml): web, worker and beat.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk ffmpeg \
      libreoffice-writer-nogui nodejs npm curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bingan ./bingan
RUN pip install --no-cache-dir .
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

ENV BINGAN_HOME=/data
VOLUME ["/data"]
EXPOSE 8000
CMD ["bingan", "serve", "--host", "0.0.0.0", "--port", "8000"]
