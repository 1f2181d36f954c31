"""`serve-ray`'s settings as Serve deployment options, and a server configuration shipped to replicas."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.config import ServerConfig
from realtime.serve_ray.settings import (
    PROBE_MARGIN,
    RaySettings,
    ReplicaConfig,
    deployment_options,
    max_ongoing_requests,
    settings_from_args,
)


def test_a_replica_takes_more_requests_than_sessions_so_a_full_one_answers_over_capacity_itself() -> None:
    config = ServerConfig().with_limits(max_sessions=2, max_pending_connections=5)
    assert max_ongoing_requests(config) == 2 + 5 + PROBE_MARGIN


def test_fixed_replicas_reserve_cpus_gpus_and_drain_for_the_timeout() -> None:
    options = deployment_options(RaySettings(replicas=3, gpus_per_replica=1, drain_timeout_s=12), ServerConfig())
    assert options["num_replicas"] == 3 and "autoscaling_config" not in options
    assert options["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 1}
    assert options["graceful_shutdown_timeout_s"] == 12
    assert options["request_router_config"]["request_router_class"] == "realtime.serve_ray.routing:LeastLoadedRouter"


def test_autoscaling_follows_sessions_within_its_bounds() -> None:
    config = ServerConfig().with_limits(max_sessions=8)
    options = deployment_options(RaySettings(replicas=1, min_replicas=1, max_replicas=4), config)
    assert "num_replicas" not in options
    assert options["autoscaling_config"] == {
        "min_replicas": 1, "initial_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 6.0,
        "upscale_delay_s": 30.0, "downscale_delay_s": 600.0, "look_back_period_s": 30.0,
    }
    quick = deployment_options(RaySettings(max_replicas=2, upscale_delay_s=1, downscale_delay_s=5, look_back_period_s=2),
                               config)["autoscaling_config"]
    assert (quick["upscale_delay_s"], quick["downscale_delay_s"], quick["look_back_period_s"]) == (1, 5, 2)


@pytest.mark.parametrize("bad", [dict(replicas=0), dict(min_replicas=3, max_replicas=2), dict(drain_timeout_s=0),
                                 dict(max_queued_requests=0), dict(gpus_per_replica=-1), dict(upscale_delay_s=-1),
                                 dict(downscale_delay_s=-1), dict(look_back_period_s=0)])
def test_impossible_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        RaySettings(**bad)


def test_a_configuration_reaches_the_replica_whole_with_absolute_paths() -> None:
    config = ServerConfig(models_dir=Path("models"), data_dir=Path("data"), api_keys=("k",)).with_limits(max_sessions=3)
    shipped = ReplicaConfig.of(config).server_config()
    assert shipped.models_dir == Path("models").resolve() and shipped.data_dir == Path("data").resolve()
    assert shipped.limits == config.limits and shipped.api_keys == ("k",)


def test_config_file_arguments_name_ray_settings_server_options_and_limits() -> None:
    settings, config = settings_from_args(
        {"replicas": "2", "gpus_per_replica": 1, "models_dir": "/models", "max_sessions": "16", "api_keys": "a,b"}
    )
    assert settings.replicas == 2 and settings.gpus_per_replica == 1
    assert config.models_dir == Path("/models") and config.limits.max_sessions == 16 and config.api_keys == ("a", "b")
    with pytest.raises(ValueError, match="unknown argument"):
        settings_from_args({"replica_count": 2})


def test_the_documented_cluster_config_names_only_known_arguments() -> None:
    import yaml

    config_file = Path(__file__).resolve().parents[2] / "deploy" / "ray-serve.yaml"
    application = yaml.safe_load(config_file.read_text())["applications"][0]
    assert application["import_path"] == "realtime.serve_ray.app:app_builder"
    settings, config = settings_from_args(application["args"])
    options = deployment_options(settings, config)
    assert options["ray_actor_options"]["num_gpus"] == 1 and options["autoscaling_config"]["max_replicas"] == 8
    assert config.voice_store_url and config.preload_models is True
