"""No Docker engine runs here, so the compose file is checked as data: every service, image,
command, environment and dependency a user's `docker compose up` relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.settings import SERVICE_PORTS
from shared.topics import SERVICES

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_kafka_is_the_apache_image_in_kraft_mode(compose: dict) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == 1
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in kafka


@pytest.mark.parametrize("service", SERVICES)
def test_each_herald_service_is_built_run_and_health_checked(compose: dict, service: str) -> None:
    definition = compose["services"][service.replace("_", "-")]
    assert definition["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (REPO / definition["build"]["context"] / definition["build"]["dockerfile"]).is_file()
    assert definition["command"] == ["python", "-m", f"services.{service}"]
    env = definition["environment"]
    assert env["HERALD_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["HERALD_WEB_BIND"] == "0.0.0.0"
    port = SERVICE_PORTS[service]
    assert env[f"HERALD_{service.upper()}_PORT"] == port
    assert definition["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert f"127.0.0.1:{port}/ready" in " ".join(definition["healthcheck"]["test"])  # caught up
    assert (REPO / "services" / service / "__main__.py").is_file()


def test_no_secret_values_are_committed(compose: dict) -> None:
    for name, definition in compose["services"].items():
        for key, value in (definition.get("environment") or {}).items():
            if any(word in key for word in ("SECRET", "TOKEN", "PASSWORD", "API_KEY")):
                assert str(value).startswith("${") and str(value).endswith(":-}"), f"{name}.{key}"


def test_dockerfile_installs_the_project_and_runs_unprivileged() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "-c constraints.txt ." in dockerfile
    assert "USER herald" in dockerfile
    for folder in ("shared", "services", "herald"):
        assert f"COPY {folder} ./{folder}" in dockerfile
