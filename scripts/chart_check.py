"""Lint, render and validate every chart under charts/ (run through scripts/chart-check.sh).

For each service chart and the umbrella chart: helm dependency update, helm lint (errors
fail), render with the default values and with an alternative set (autoscaling, PDB and
migrations off, an OTLP endpoint, extra config), validate each manifest with
`kubernetes-validate --strict`, and check that every Deployment has probes and a locked-down
security context and every container reads its secrets from a Secret.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import tempfile
import time
from pathlib import Path

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHARTS = ROOT / "charts"
SERVICES = ["intake", "routing", "refund", "training-scheduling", "notifications"]
VALIDATE = Path(sys.executable).parent / "kubernetes-validate"

ALTERNATIVE = {
    "autoscaling": {"enabled": False},
    "podDisruptionBudget": {"enabled": False},
    "migrations": {"enabled": False},
    "replicaCount": 3,
    "otel": {"endpoint": "http://otel-collector:4318"},
    "config": {"bus": {"prefetch": 64, "retry_delays_ms": [1000, 5000]}, "http": {"cors_allowed_origins": ["https://app.example.com"]}},
    "existingSecret": "custom-secrets",
}
UMBRELLA_ALTERNATIVE = {
    "global": {"imageRegistry": "registry.example.com", "imageTag": "1.2.3", "otelEndpoint": "http://otel:4318"},
    "refund": {"enabled": False},
}


class CheckError(Exception):
    pass


def lint(chart: Path) -> None:
    report = helm.lint(str(chart), strict=False)
    errors = [m for m in report.get("messages", []) if m.get("severity", 0) >= 3] + [
        {"error": e} for e in report.get("errors", []) or []
    ]
    if errors:
        raise CheckError(f"lint: {errors}")


def render(chart: Path, values: dict | None) -> list[dict]:
    rendered = helm.Chart.load(str(chart)).render(values or {}, name="edu", namespace="edu-support", is_install=True)
    docs = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs


def validate(docs: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, doc in enumerate(docs):
            f = Path(tmp) / f"{i:03d}-{doc['kind']}.yaml"
            f.write_text(yaml.safe_dump(doc))
            files.append(str(f))
        out = subprocess.run([str(VALIDATE), "--strict", "--quiet", *files], capture_output=True, text=True)
        if out.returncode != 0:
            raise CheckError(f"kubernetes-validate:\n{out.stdout}{out.stderr}")


def check_workloads(docs: list[dict]) -> None:
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        spec = doc["spec"]["template"]["spec"]
        name = doc["metadata"]["name"]
        if not spec.get("securityContext", {}).get("runAsNonRoot"):
            raise CheckError(f"{name}: pod securityContext must set runAsNonRoot")
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem"):
                raise CheckError(f"{name}/{c['name']}: container securityContext is not locked down")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                raise CheckError(f"{name}/{c['name']}: capabilities must drop ALL")
            if not any("secretRef" in e for e in c.get("envFrom", [])):
                raise CheckError(f"{name}/{c['name']}: secrets must come from a Secret (envFrom)")
            if doc["kind"] == "Deployment":
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    if probe not in c:
                        raise CheckError(f"{name}/{c['name']}: missing {probe}")
                if c["readinessProbe"]["httpGet"]["path"] != "/readyz":
                    raise CheckError(f"{name}: readiness must probe /readyz")
                if "resources" not in c or "limits" not in c["resources"]:
                    raise CheckError(f"{name}: resources with limits are required")
        if doc["kind"] == "Deployment":
            annotations = doc["spec"]["template"]["metadata"].get("annotations", {})
            if "checksum/config" not in annotations:
                raise CheckError(f"{name}: pods must roll on config changes (checksum/config)")


def check_selectors(docs: list[dict]) -> None:
    """Only a Deployment's own pods may match its Service's selector."""
    services = [d for d in docs if d["kind"] == "Service"]
    for job in (d for d in docs if d["kind"] == "Job"):
        labels = job["spec"]["template"]["metadata"].get("labels", {})
        for svc in services:
            selector = svc["spec"]["selector"]
            if all(labels.get(k) == v for k, v in selector.items()):
                raise CheckError(f"Service {svc['metadata']['name']} would select the pods of Job {job['metadata']['name']}")


def check_config(docs: list[dict]) -> None:
    """Every rendered config.toml parses, and listens where the pod's port is."""
    ports = {d["metadata"]["name"]: d["spec"]["ports"][0]["port"] for d in docs if d["kind"] == "Service"}
    for cm in (d for d in docs if d["kind"] == "ConfigMap"):
        config = tomllib.loads(cm["data"]["config.toml"])
        if config["http"]["host"] != "0.0.0.0" or config["http"]["port"] != ports.get(cm["metadata"]["name"]):
            raise CheckError(f"{cm['metadata']['name']}: config.toml does not listen on the Service's port")


def check_rejects_typos(chart: Path) -> None:
    try:
        render(chart, {"replicaCont": 2})
    except helm.HelmError:
        return
    raise CheckError("values.schema.json accepted an unknown key (replicaCont)")


def check_chart(chart: Path, value_sets: list[dict | None], expect: dict[str, int]) -> str:
    lint(chart)
    check_rejects_typos(chart)
    summary = []
    for values in value_sets:
        docs = render(chart, values)
        kinds: dict[str, int] = {}
        for d in docs:
            kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
        for kind, n in expect.items():
            if values is None and kinds.get(kind, 0) < n:
                raise CheckError(f"expected at least {n} {kind}, rendered {kinds}")
        validate(docs)
        check_workloads(docs)
        check_selectors(docs)
        check_config(docs)
        summary.append(f"{len(docs)} manifests")
    return ", ".join(summary)


def main() -> int:
    started = time.time()
    failures = 0
    lint(CHARTS / "platform-lib")
    print("platform-lib            lint ok (library chart)")
    for name in SERVICES:
        chart = CHARTS / name
        try:
            helm.dependency_update(str(chart))
            result = check_chart(
                chart,
                [None, ALTERNATIVE],
                {"Deployment": 1, "Service": 1, "ConfigMap": 1, "ServiceAccount": 1, "HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 1, "Job": 1},
            )
            print(f"{name:<23} lint ok, rendered and valid: {result}")
        except Exception as e:  # noqa: BLE001 - report every chart, then fail
            failures += 1
            print(f"{name:<23} FAILED: {e}")
    try:
        chart = CHARTS / "edu-support"
        helm.dependency_update(str(chart))
        result = check_chart(chart, [None, UMBRELLA_ALTERNATIVE], {"Deployment": 5, "Job": 5})
        print(f"{'edu-support':<23} lint ok, rendered and valid: {result}")
    except Exception as e:  # noqa: BLE001
        failures += 1
        print(f"{'edu-support':<23} FAILED: {e}")
    print(f"chart check: {'FAILED' if failures else 'ok'} in {time.time() - started:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
