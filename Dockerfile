# The mm_platform image: the code location (gRPC code server on 4000), and the same image runs each
# launched run (K8sRunLauncher Job / EcsRunLauncher task), the webserver and the daemon.
# Checked in the suite: hadolint, and mm_platform_tests/deploy/test_artifacts.py.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

WORKDIR /opt/dagster/app

# Dependencies first (a layer that changes only with setup.py or constraints.txt): the package is a
# placeholder here, so only the pinned runtime dependencies are installed, no extras.
COPY setup.py constraints.txt ./
RUN mkdir mm_platform \
    && touch mm_platform/__init__.py \
    && pip install --no-cache-dir -c constraints.txt . \
    && pip uninstall --yes mm_platform \
    && rm -rf mm_platform build ./*.egg-info

# The code itself, without re-resolving the dependencies.
COPY mm_platform ./mm_platform
COPY workspace.yaml ./
# the ECS instance (deploy/ecs/task-definitions set DAGSTER_HOME to its folder); on Kubernetes the
# instance comes from the dagster-instance ConfigMap instead
COPY deploy/ecs/dagster.yaml /opt/dagster/ecs_home/dagster.yaml
RUN pip install --no-cache-dir --no-deps -c constraints.txt . \
    && rm -rf build ./*.egg-info

RUN useradd --create-home --uid 10001 --user-group dagster \
    && mkdir -p "$DAGSTER_HOME" \
    && chown -R dagster:dagster "$DAGSTER_HOME" /opt/dagster/ecs_home
USER 10001

EXPOSE 4000

# CMD, not ENTRYPOINT: the run launchers and the Helm chart start the same image with their own
# arguments (`dagster api execute_run ...`, `dagster-webserver ...`), which replace CMD.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "mm_platform.definitions"]
