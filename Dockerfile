# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build --target bot -t incident-bot .            the ChatOps bot (default target)
#   docker build --target pipeline -t orders-pipeline .    the PyFlink job on the Flink base image

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG FLINK_IMAGE=flink:2.3.0-scala_2.12-java17

# ---------------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Dependencies first, in layers of their own: a change to the bot's code does not fetch or reinstall them.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > requirements.txt \
    && python -m pip wheel --wheel-dir /wheels/deps -r requirements.txt
COPY README.md ./
COPY bot ./bot
COPY pipeline ./pipeline
COPY runbooks ./runbooks
COPY queries ./queries
RUN python -m pip wheel --no-deps --wheel-dir /wheels .

# ---------------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS bot
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////data/incident-bot.db LOG_FORMAT=json
RUN useradd --create-home --uid 10001 incident-bot \
    && mkdir -p /data \
    && chown incident-bot /data
COPY --from=build /wheels/deps /wheels/deps
RUN python -m pip install /wheels/deps/*.whl && rm -rf /wheels
COPY --from=build /wheels/incident_bot-*.whl /wheels/
RUN python -m pip install --no-deps /wheels/incident_bot-*.whl && rm -rf /wheels
USER 10001
WORKDIR /home/incident-bot
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["incident-bot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]

# ---------------------------------------------------------------------------------------------------------------
FROM ${FLINK_IMAGE} AS pipeline
# The PyFlink job: Python + apache-flink on the Flink distribution. Connector jars (Kafka source, Kinesis/Firehose
# sink) are not on PyPI: fetch them at build time into /opt/flink/lib with build args pinning their versions.
ARG KAFKA_CONNECTOR_URL=""
ARG FIREHOSE_CONNECTOR_URL=""
USER root
# The distribution's python3 follows the base image's security updates; pinning it would freeze them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1
COPY --from=build /wheels /wheels
RUN pip install "$(ls /wheels/incident_bot-*.whl)[pipeline]" && rm -rf /wheels
RUN for url in "$KAFKA_CONNECTOR_URL" "$FIREHOSE_CONNECTOR_URL"; do \
      if [ -n "$url" ]; then python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], "/opt/flink/lib/" + sys.argv[1].rsplit("/", 1)[-1])' "$url"; fi; \
    done \
    && chown -R 9999:9999 /opt/flink/lib
USER 9999
# Submit to the session cluster named by FLINK_REST (JobManager's REST host:port) with `flink run -py
# pipeline/main.py`, attached while the job runs; source and sink from ORDERS_SOURCE / ORDERS_SINK (pipeline.main).
# `incident-bot pipeline submit` runs this same command against a local cluster, and the tests run that.
ENV ORDERS_SOURCE=kafka://kafka:9092/orders.raw ORDERS_SINK=firehose://orders FLINK_REST=jobmanager:8081
CMD ["python", "-m", "pipeline.submit"]
