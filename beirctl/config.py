"""YAML run configs, validated with pydantic; errors name the key and its line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from beirctl.errors import BeirctlError, ConfigError
from beirctl.evaluation.metrics import DEFAULT_METRICS, parse_metrics


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
        return self

    @property
    def label(self) -> str:
        return self.name or Path(self.path or "").name


class Resources(_Strict):
    """What one (dataset, retriever) task asks of a Ray cluster."""

    cpus: float = Field(default=1.0, ge=0)
    gpus: float = Field(default=0.0, ge=0)


class RetrieverSpec(_Strict):
    """A retriever: its registered ``type``, a ``label`` for results, and its ``params``."""

    type: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=lambda: Resources())

    @property
    def name(self) -> str:
        return self.label or self.type


class Config(_Strict):
    """A benchmark: every dataset × every retriever."""

    name: str | None = None
    datasets: list[DatasetSpec]
    retrievers: list[RetrieverSpec]
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS))
    top_k: int = Field(1000, gt=0)
    remove_query_id_hits: bool = True
    output_dir: str | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    ray_encode_workers: int = Field(default=0, ge=0)  # > 0: dense corpus encoding on this many Ray actors
    reference: str | None = None  # a published table to show beside the results (beirctl verify --list)

    @field_validator("datasets", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

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
    message = message.removeprefix("Value error, ")
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: {_loc_text(loc) or 'config'}: {message}")


def _check_duplicate_keys(path: Path, node: yaml.Node | None) -> None:
    """PyYAML silently keeps the last of two equal keys; a config with both is an error."""
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key, value in node.value:
            if key.value in seen:
                raise ConfigError(f"{path}:{key.start_mark.line + 1}: duplicate key {key.value!r}")
            seen.add(key.value)
            _check_duplicate_keys(path, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(path, item)


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config, including each retriever's parameters."""
    from beirctl.retrievers import registry

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping")
    _check_duplicate_keys(path, root)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _first_error(path, root, exc) from None
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
