FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=collectstatic-only-key-not-used-at-runtime-000000 python manage.py collectstatic --noinput
RUN useradd --create-home flowboard
USER flowboard
EXPOSE 8000
