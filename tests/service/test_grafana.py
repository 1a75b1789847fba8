"""jetson/grafana-dashboard.json cannot drift from the metrics: every metric it queries is exported by ServiceMetrics
(plus the MQTT ones), and every exported metric has a panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).parents[2] / "jetson" / "grafana-dashboard.json"
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "gauge": ("",), "summary": ("_count", "_sum", "_created")}


@pytest.fixture(scope="module")
def exported():
    """{family name: the series names Prometheus stores for it}, from a real registry."""
    pytest.importorskip("prometheus_client", reason="needs the service extra")
    from edgeseg.service.metrics import ServiceMetrics
    from edgeseg.service.mqtt import MqttCounters, register_mqtt_metrics

    m = ServiceMetrics()
    register_mqtt_metrics(m.registry, MqttCounters())
    return {f.name: {f.name + s for s in SUFFIXES[f.type]} for f in m.registry.collect()}


def _exprs(dash: dict) -> list[str]:
    out = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    out += [v["query"]["query"] for v in dash["templating"]["list"] if isinstance(v.get("query"), dict)]
    return out


def test_every_queried_metric_exists_and_every_metric_is_shown(exported):
    dash = json.loads(DASHBOARD.read_text())
    queried = {m for e in _exprs(dash) for m in re.findall(r"\bedgeseg_[a-z0-9_]+", e)}
    series = set().union(*exported.values())
    assert queried - series == set(), "the dashboard queries metrics that the service does not export"
    unshown = {f for f, names in exported.items() if not names & queried}
    assert unshown == set(), "exported metrics without a panel"


def test_datasource_and_camera_variables():
    dash = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dash["__inputs"]] == ["DS_PROMETHEUS"]
    names = {v["name"]: v for v in dash["templating"]["list"]}
    assert names["camera"]["query"]["query"] == "label_values(edgeseg_frames_total, camera)"
    assert names["camera"]["includeAll"] and names["camera"]["multi"]
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, p["title"]
        assert p["targets"] and all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in p["targets"]), p["title"]
        for t in p["targets"]:  # per-camera series are filtered by the camera variable
            if re.search(r"edgeseg_(fps|frames|keyframe|latency|dropped|decode|reconnects|connected|ended|audit)",
                         t["expr"]):
                assert 'camera=~"$camera"' in t["expr"], t["expr"]
