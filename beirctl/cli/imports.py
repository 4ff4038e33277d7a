"""``beirctl import``: a results folder from run files made elsewhere, in one step."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from beirctl.cli.common import DataDirOpt, err_console, pair_reporter, print_summary
from beirctl.errors import BeirctlError

if TYPE_CHECKING:
    from beirctl.config import Config

# File names tried for a dataset's run file, in RUNS_DIR; "*" is any part without a "/"
# (Anserini's "scifact.bm25-flat.anserini-0.22.1.trec.gz", Pyserini's "run.beir.bm25-flat.scifact.txt").
NAME_FORMS = (
    "{dataset}.trec",
    "{dataset}.trec.gz",
    "{dataset}.txt",
    "{dataset}.txt.gz",
    "{dataset}.run",
    "{dataset}.run.gz",
    "{dataset}.*.trec",
    "{dataset}.*.trec.gz",
    "{dataset}.*.txt",
    "{dataset}.*.txt.gz",
    "run.*.{dataset}.txt",
    "run.*.{dataset}.trec",
    "run.*.{dataset}.txt.gz",
    "run.*.{dataset}.trec.gz",
)


def _templates(runs_dir: Path, dataset: str) -> set[str]:
    """The file-name templates (``{dataset}`` in place of the name, the parts ``*`` matched put
    back) of the run files of ``dataset`` found in ``runs_dir`` under :data:`NAME_FORMS`."""
    from beirctl.retrievers.run_file import PLACEHOLDER, file_name

    name = file_name(dataset)
    files = sorted(p.name for p in runs_dir.iterdir() if p.is_file())
    found: set[str] = set()
    for form in NAME_FORMS:
        head, _, tail = form.partition(PLACEHOLDER)
        parts = [re.escape(x).replace(r"\*", "(.+)") for x in (head, tail)]
        regex = re.compile(parts[0] + re.escape(name) + parts[1])
        for fname in files:
            match = regex.fullmatch(fname)
            if match:
                fill = iter(match.groups())
                found.add(
                    "".join(next(fill) if c == "*" else c for c in head)
                    + PLACEHOLDER
                    + "".join(next(fill) if c == "*" else c for c in tail)
                )
    return found


def find_template(runs_dir: Path, datasets: list[str]) -> str:
    """The one file-name template under which ``runs_dir`` holds a run file for every dataset."""
    per_dataset = {ds: _templates(runs_dir, ds) for ds in datasets}
    missing = [ds for ds, found in per_dataset.items() if not found]
    if missing:
        from beirctl.retrievers.run_file import file_name

        raise BeirctlError(
            f"{runs_dir}: no run file for {', '.join(missing)} (tried "
            f"{', '.join(f.replace('{dataset}', file_name(missing[0])) for f in NAME_FORMS)}); "
            "name them so, or give --pattern"
        )
    common = set.intersection(*per_dataset.values())
    if len(common) == 1:
        return common.pop()
    if not common:
        shown = "; ".join(f"{ds}: {', '.join(sorted(t))}" for ds, t in per_dataset.items())
        raise BeirctlError(f"{runs_dir}: the run files are named differently across datasets ({shown}); give --pattern")
    raise BeirctlError(f"{runs_dir}: several run files per dataset ({', '.join(sorted(common))}); give --pattern")


def import_cmd(
    runs_dir: Annotated[Path, typer.Argument(metavar="RUNS_DIR", help="Folder of TREC run files, one per dataset.")],
    config_path: Annotated[
        Path, typer.Option("--config", "-c", help="Config naming the datasets and settings (its retrievers unused).")
    ],
    label: Annotated[str, typer.Option("--label", "-l", help="Label of the imported retriever.")],
    pattern: Annotated[
        Optional[str],
        typer.Option(
            "--pattern",
            help="Run file name in RUNS_DIR with {dataset} (e.g. '{dataset}.bm25.trec.gz'); default: found.",
        ),
    ] = None,
    output_dir: Annotated[
        Optional[Path],
        typer.Option("--output-dir", "-o", help="Results folder (default: results/<config name>-<label>)."),
    ] = None,
    data_dir: DataDirOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Redo pairs that are already finished.")] = False,
) -> None:
    """Write a results folder from run files: the config's datasets × one `run` retriever.

    The config gives the datasets and settings (split, metrics, top_k, remove_query_id_hits,
    data_dir); its retrievers and output_dir are not used (a config without retrievers is fine).
    Each run file is checked (columns, scores, duplicates, doc ids in the corpus, query ids
    judged in the split) and ranked again by score.
    """
    from beirctl.config import Config, RetrieverSpec, label_problem
    from beirctl.jobs import targets
    from beirctl.retrievers.run_file import PLACEHOLDER
    from beirctl.runner import run_config

    problem = label_problem(label)
    if problem:
        raise BeirctlError(f"--label {label!r} {problem} (it names a results folder and the run tag)")
    if not runs_dir.is_dir():
        raise BeirctlError(f"{runs_dir}: not a folder of run files")
    config = _load(config_path)
    names = [t.name for ds in config.datasets for t in targets(ds)]
    if pattern is not None:
        if PLACEHOLDER not in pattern and len(names) > 1:
            raise BeirctlError(f"--pattern {pattern!r}: needs {PLACEHOLDER} (the config has {len(names)} datasets)")
        if "/" in pattern:
            raise BeirctlError(f"--pattern {pattern!r}: a file name in RUNS_DIR, without '/'")
        template = pattern
    else:
        template = find_template(runs_dir, names)
    path = str(runs_dir.resolve() / template)
    data = config.model_dump()
    data["retrievers"] = [RetrieverSpec(type="run", label=label, params={"path": path}).model_dump()]
    data["output_dir"] = str(output_dir or Path("results") / f"{config.name or 'run'}-{label}")
    config = Config.model_validate(data)
    err_console.print(f"importing {escape(path)} as {escape(label)}", highlight=False, soft_wrap=True)

    reporter = pair_reporter(skipped="imported earlier", stages=False)

    summary = run_config(config, force=force, data_dir=data_dir, reporter=reporter, config_path=str(config_path))
    if summary.failed:
        raise BeirctlError(
            f"{len(summary.failed)} run file(s) rejected: " + "; ".join(f"{d}: {e}" for d, _, e in summary.failed)
        )
    print_summary(summary, config.reference)


def _load(config_path: Path) -> Config:
    """The config; one that lists no retrievers (only datasets and settings) is accepted."""
    from beirctl.config import load_config, parse_config
    from beirctl.errors import ConfigError

    try:
        return load_config(config_path)
    except ConfigError as exc:
        if not re.search(r"\bretrievers: Field required$", str(exc)):
            raise
    # A placeholder, replaced by the run retriever; appended, so the config's lines keep their numbers.
    text = config_path.read_text(encoding="utf-8")
    return parse_config(text.rstrip("\n") + '\nretrievers: [{type: run, label: "import"}]\n', config_path)
