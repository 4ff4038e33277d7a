"""YAML run configs, validated with pydantic; errors name the key and its line."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from beirctl.datasets import catalog
from beirctl.errors import BeirctlError, ConfigError
from beirctl.evaluation.metrics import DEFAULT_METRICS, parse_metrics
from beirctl.retrievers.base import Resources

MAX_DEPTH = 64  # nesting levels of a config: real configs use about 6
MAX_NODES = 100_000  # YAML nodes after expanding aliases (a config has a few hundred)


def label_problem(value: str) -> str | None:
    """Why ``value`` cannot name a results folder or a TREC run tag, or None when it can.

    A label becomes a path component and the sixth column of a run file: no path separators,
    no ``..``, no whitespace, no control or unpaired surrogate characters, no leading dot or dash.
    """
    if not value:
        return "is empty"
    if len(value) > 128:
        return "is longer than 128 characters"
    for ch in value:
        if ch.isspace():
            return "contains whitespace"
        if unicodedata.category(ch).startswith("C"):
            return f"contains the control character U+{ord(ch):04X}"
        if ch in "/\\":
            return f"contains the path separator {ch!r}"
    if ".." in value:
        return "contains '..'"
    if value[0] in ".-":
        return f"starts with {value[0]!r}"
    return None


def _check_label(value: str, what: str) -> str:
    problem = label_problem(value)
    if problem:
        raise ValueError(f"{what} {value!r} {problem} (it names a results folder and the run tag)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Strict):
    """A dataset by catalog ``name`` (in the data dir), by folder ``path``, or from the hub."""

    name: str | None = None
    path: str | None = None
    split: str | None = None
    source: Literal["folder", "hf"] = "folder"

    @model_validator(mode="after")
    def _name_or_path(self) -> DatasetSpec:
        if not self.name and not self.path:
            raise ValueError("a dataset needs a 'name' or a 'path'")
        if self.source == "hf" and self.path:
            raise ValueError("'path' cannot be used with source: hf (give the hub 'name')")
        if self.name and not (self.name in catalog.DATASETS or self.name == catalog.CQADUPSTACK):
            _check_label(self.name, "dataset name")
        elif not self.name:
            _check_label(self.label, "dataset folder name")
        if self.split is not None:
            _check_label(self.split, "split")
        return self

    @property
    def label(self) -> str:
        return self.name or Path(self.path or "").name


class RetrieverSpec(_Strict):
    """A retriever: its registered ``type``, a ``label`` for results, and its ``params``."""

    type: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    resources: Resources | None = None  # None: what the retriever class declares

    @model_validator(mode="after")
    def _safe_label(self) -> RetrieverSpec:
        _check_label(self.name, "label" if self.label is not None else "retriever type (used as label)")
        return self

    @property
    def name(self) -> str:
        return self.label or self.type


class Config(_Strict):
    """A benchmark: every dataset × every retriever."""

    name: str | None = None
    datasets: list[DatasetSpec]
    retrievers: list[RetrieverSpec]
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS))
    top_k: int = Field(1000, gt=0, strict=True)
    remove_query_id_hits: bool = True
    output_dir: str | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    ray_encode_workers: int = Field(default=0, ge=0, strict=True)  # > 0: dense corpus encoding on this many Ray actors
    reference: str | None = None  # a published table to show beside the results (beirctl verify --list)

    @field_validator("datasets", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_label(value, "config name")

    @field_validator("datasets", "retrievers")
    @classmethod
    def _non_empty(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("must list at least one entry")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        try:
            parse_metrics(value)
        except BeirctlError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("reference")
    @classmethod
    def _known_reference(cls, value: str | None) -> str | None:
        from beirctl.verify import reference_names

        if value is not None and value not in reference_names():
            raise ValueError(f"unknown reference {value!r} (known: {', '.join(reference_names())})")
        return value

    @model_validator(mode="after")
    def _unique_labels(self) -> Config:
        labels = [r.name for r in self.retrievers]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"retriever labels must be unique; repeated: {', '.join(dupes)} (set 'label')")
        return self

    def results_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path("results") / (self.name or "run")

    def results_fields(self) -> dict[str, Any]:
        """The config less where and how it runs (executor, resources): what results depend on."""
        data = self.model_dump(exclude={"executor", "ray_address", "ray_encode_workers", "reference"})
        for retriever in data["retrievers"]:
            retriever.pop("resources", None)
        return data

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.results_fields(), sort_keys=True).encode()).hexdigest()


def _node_line(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its deepest existing ancestor)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    # An unknown key points at the key itself; otherwise descend into the value.
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            line = node.start_mark.line + 1
    return line


def _loc_text(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if not isinstance(part, int) and not str(part).isprintable():
            part = repr(str(part))  # a key holding a line break or a control character
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _first_error(
    path: Path, root: yaml.Node | None, exc: ValidationError, prefix: tuple[int | str, ...] = ()
) -> ConfigError:
    err = exc.errors()[0]
    loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p in {"function-after", "list[str]"}))
    line = _node_line(root, loc)
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    message = " ".join(message.removeprefix("Value error, ").split())
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: {_loc_text(loc) or 'config'}: {message}")


def _check_shape(path: Path, text: str) -> None:
    """Reject configs nested deeper than ``MAX_DEPTH`` from the event stream, before composing.

    PyYAML's composer recurses once per level (5,000 levels: RecursionError); the parser does not.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise ConfigError(f"{path}:{line}: nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _check_nodes(path: Path, root: yaml.Node | None) -> None:
    """Duplicate keys and the size after expanding aliases, each node visited once.

    PyYAML silently keeps the last of two equal keys: a config with both is an error. An alias
    is a reference: a 400-byte "billion laughs" document expands to 10^9 nodes, which every later
    step (validation, hashing, JSON) would walk, so the expanded size is bounded first.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)] if root is not None else []
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        if not children_done:
            stack.append((node, True))
            stack.extend((kid, False) for kid in kids if id(kid) not in sizes)
            continue
        size = 1 + sum(sizes[id(kid)] for kid in kids)
        if size > MAX_NODES:
            raise ConfigError(
                f"{path}:{node.start_mark.line + 1}: the config expands to more than {MAX_NODES:,} values "
                "(YAML aliases referring to aliases?)"
            )
        sizes[id(node)] = size
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise ConfigError(f"{path}:{key.start_mark.line + 1}: a key must be a plain value")
                if key.value in seen:
                    raise ConfigError(f"{path}:{key.start_mark.line + 1}: duplicate key {key.value!r}")
                seen.add(key.value)


def _check_result_names(path: Path, root: yaml.Node | None, config: Config) -> None:
    """Two datasets with one results folder (``a/scifact`` and ``b/scifact``) would overwrite
    each other's results: every result name must be unique in a config."""
    seen: dict[str, int] = {}
    for i, spec in enumerate(config.datasets):
        names = catalog.expand(spec.name) if spec.name and not spec.path else [spec.label]
        for name in names:
            if name in seen:
                first, line = seen[name], _node_line(root, ("datasets", i))
                raise ConfigError(
                    f"{path}:{line}: datasets[{i}]: results name {name!r} is also that of datasets[{first}] "
                    f"(line {_node_line(root, ('datasets', first))}); give the folders different names"
                )
            seen[name] = i


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config, including each retriever's parameters."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    return parse_config(text, path)


def parse_config(text: str, path: str | Path = "<config>") -> Config:
    """Validate config ``text``; errors name ``path`` and the line."""
    from beirctl.retrievers import registry

    path = Path(path)
    try:
        _check_shape(path, text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_nodes(path, root)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML ({problem})") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"{path}: the config is too large or too deeply nested") from None
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. an integer of more than 4,300 digits
        raise ConfigError(f"{path}: invalid YAML value ({str(exc).split(';')[0][:200]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _first_error(path, root, exc) from None
    _check_result_names(path, root, config)
    if config.name is None:
        config.name = path.stem
    for i, spec in enumerate(config.retrievers):
        try:
            cls = registry.get(spec.type)
        except ConfigError as exc:
            line = _node_line(root, ("retrievers", i, "type"))
            raise ConfigError(f"{path}:{line}: retrievers[{i}].type: {exc}") from None
        try:
            cls.Params.model_validate(spec.params)
        except ValidationError as exc:
            raise _first_error(path, root, exc, ("retrievers", i, "params")) from None
    return config
