"""Leaderboard submission bundles: build one from results, validate one before sending it.

A bundle (a folder, zipped) holds ``metadata.json``, ``results.json`` and
``runs/<dataset>.trec.gz`` (CQADupStack forums as ``cqadupstack-<forum>``); both JSON files
follow ``beirctl/schemas/submission.schema.json``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from beirctl import provenance
from beirctl.atomic import atomic_path, write_json
from beirctl.datasets import catalog
from beirctl.datasets.loader import load_qrels, qrels_path
from beirctl.datasets.paths import data_dir as resolve_data_dir
from beirctl.errors import BeirctlError, DataError
from beirctl.evaluation import read_run, write_run
from beirctl.results import RUN_FILE, dataset_scores

TOP_K = 1000


def required_datasets() -> list[str]:
    """Every public BEIR dataset of the benchmark, CQADupStack as its 12 forums."""
    return [name for ds in catalog.PUBLIC_BENCHMARK for name in catalog.expand(ds)]


def _run_name(dataset: str) -> str:
    return dataset.replace("/", "-") + ".trec.gz"


def schema() -> dict[str, Any]:
    return json.loads((resources.files("beirctl.schemas") / "submission.schema.json").read_text(encoding="utf-8"))


def build(
    entries: list[dict[str, Any]],
    results_dir: Path,
    out_dir: Path,
    *,
    label: str | None = None,
    model_name: str | None = None,
    link: str | None = None,
) -> Path:
    """Write ``out_dir/<label>/`` and ``out_dir/<label>.zip`` from one retriever's results."""
    labels = sorted({m["retriever"]["label"] for m in entries})
    if label is None:
        if len(labels) != 1:
            raise BeirctlError(f"results hold several retrievers ({', '.join(labels)}); pick one with --retriever")
        label = labels[0]
    mine = [m for m in entries if m["retriever"]["label"] == label]
    if not mine:
        raise BeirctlError(f"no results for retriever {label!r} (have: {', '.join(labels)})")
    scores = dataset_scores(mine)  # raises on an incomplete CQADupStack
    metrics = list(mine[0]["aggregate"])
    first = mine[0]
    names = sorted(m["dataset"]["name"] for m in mine)
    metadata = {
        "schema": "beirctl.submission/1",
        "model": {"name": model_name or label, "link": link},
        "retriever": first["retriever"],
        "datasets": names,
        "complete": set(required_datasets()) <= set(names),
        "top_k": TOP_K,
        "packages": first["provenance"]["packages"],
        "machine": first["provenance"]["machine"],
        "config_sha256": first.get("config", {}).get("sha256"),
        "checksums": {m["dataset"]["name"]: m["dataset"]["checksums"] for m in mine},
        "created": provenance.now(),
    }
    results = {
        "schema": "beirctl.submission-results/1",
        "metrics": metrics,
        "datasets": dict(sorted(scores.items())),
        "average": {k: sum(s[k] for s in scores.values()) / len(scores) for k in metrics},
        "queries": {m["dataset"]["name"]: sorted(m["per_query"][metrics[0]]) for m in mine},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{label}.", dir=out_dir))
    try:
        for m in mine:
            run = read_run(results_dir / m["dataset"]["name"] / label / RUN_FILE)
            write_run(
                staging / "runs" / _run_name(m["dataset"]["name"]), {q: h[:TOP_K] for q, h in run.items()}, tag=label
            )
        write_json(staging / "metadata.json", metadata)
        write_json(staging / "results.json", results)
        final = out_dir / label
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    zip_path = out_dir / f"{label}.zip"
    with atomic_path(zip_path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(final.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(final).as_posix())
    return zip_path


@dataclass
class Validation:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _open_bundle(path: Path) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    if path.is_dir():
        return path, None
    if zipfile.is_zipfile(path):
        tmp = tempfile.TemporaryDirectory(prefix="beirctl-bundle-")
        from beirctl.datasets.download import check_members

        with zipfile.ZipFile(path) as zf:
            check_members(zf, path)
            zf.extractall(tmp.name)
        return Path(tmp.name), tmp
    raise BeirctlError(f"{path}: not a bundle folder or zip")


def validate(path: str | Path, data_dir: str | Path | None = None) -> Validation:
    """Check a bundle; every problem is named (nothing stops at the first)."""
    import jsonschema

    root, tmp = _open_bundle(Path(path))
    report = Validation()
    try:
        docs: dict[str, Any] = {}
        for name, part in (("metadata.json", "metadata"), ("results.json", "results")):
            try:
                docs[part] = json.loads((root / name).read_text(encoding="utf-8"))
            except FileNotFoundError:
                report.problems.append(f"{name}: missing")
                continue
            except json.JSONDecodeError as exc:
                report.problems.append(f"{name}: invalid JSON ({exc})")
                continue
            validator = jsonschema.Draft202012Validator({**schema(), "$ref": f"#/$defs/{part}"})
            for err in sorted(validator.iter_errors(docs[part]), key=lambda e: list(e.path)):
                where = "/".join(str(p) for p in err.path) or "(top level)"
                report.problems.append(f"{name}: schema violation at {where}: {err.message}")
        if "metadata" not in docs or not isinstance(docs["metadata"].get("datasets"), list):
            return report
        declared = [d for d in docs["metadata"]["datasets"] if isinstance(d, str)]
        if docs["metadata"].get("complete", True):
            for ds in required_datasets():
                if ds not in declared:
                    report.problems.append(
                        f"missing dataset: {ds} (a complete submission has every public BEIR dataset)"
                    )
        forums = [d for d in declared if d.startswith(f"{catalog.CQADUPSTACK}/")]
        if forums and len(set(forums)) != len(catalog.CQADUPSTACK_FORUMS):
            missing = sorted(set(catalog.expand(catalog.CQADUPSTACK)) - set(forums))
            report.problems.append(
                f"CQADupStack incomplete: {len(set(forums))} of 12 forums (missing {', '.join(missing)})"
            )
        judged = docs.get("results", {}).get("queries", {})
        root_data = resolve_data_dir(data_dir)
        for ds in declared:
            run_path = root / "runs" / _run_name(ds)
            if not run_path.is_file():
                report.problems.append(f"missing dataset: runs/{run_path.name} for {ds}")
                continue
            try:
                run = read_run(run_path)
            except DataError as exc:
                report.problems.append(str(exc).replace(str(root) + "/", ""))
                continue
            qids, source = _judged_queries(ds, root_data, judged)
            if qids is not None:
                unknown = sorted(set(run) - qids)
                if unknown:
                    report.problems.append(
                        f"runs/{run_path.name}: {len(unknown)} unknown query id(s) not in the {source}: "
                        + ", ".join(unknown[:5])
                    )
            over = [q for q, hits in run.items() if len(hits) > TOP_K]
            if over:
                report.problems.append(f"runs/{run_path.name}: {len(over)} queries with more than {TOP_K} hits")
            short = [q for q, hits in run.items() if len(hits) < TOP_K]
            if short:
                report.notes.append(f"runs/{run_path.name}: {len(short)} queries with fewer than {TOP_K} hits")
        return report
    finally:
        if tmp is not None:
            tmp.cleanup()


def _judged_queries(ds: str, root: Path, judged: dict[str, Any]) -> tuple[set[str] | None, str]:
    """Query ids judged in the dataset's qrels when it is local, else those listed in results.json."""
    info = catalog.DATASETS.get(ds)
    path = qrels_path(root / ds, info.split if info else "test")
    if path.is_file():
        return set(load_qrels(path)[0]), f"qrels ({path})"
    if ds in judged:
        return set(judged[ds]), "results.json query list"
    return None, ""
