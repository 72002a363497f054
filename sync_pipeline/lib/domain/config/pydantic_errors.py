"""Turn pydantic validation errors into problems a person editing YAML can act on."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .errors import ConfigProblem, KeyPath
from .yaml_source import YamlDocument

_QUOTE_HINT = " (put quotes around values such as 0123, 1e5 or yes so YAML keeps them as text)"


def describe_validation_error(
    error: ValidationError, document: YamlDocument, model: type[BaseModel]
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for detail in error.errors(include_url=False):
        path: KeyPath = tuple(detail["loc"])
        problems.append(document.problem(path, _message(detail, path, model)))
    return problems


def _message(detail: Any, path: KeyPath, model: type[BaseModel]) -> str:
    kind: str = detail["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, path[:-1])
        suffix = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {path[-1]!r}{suffix}"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if kind == "string_type":
        message += _QUOTE_HINT
    if kind not in ("value_error", "assertion_error"):
        message += f" (got {_show(detail.get('input'))})"
    return message


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


def _allowed_keys(model: type[BaseModel], path: KeyPath) -> list[str]:
    """Field names of the model found at `path`, or [] when the path does not lead to one."""
    current: Any = model
    for part in path:
        current = _strip(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return []
    current = _strip(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _strip(annotation: Any) -> Any:
    """Drop Annotated[...] and Optional[...] wrappers."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            annotation = options[0]
        else:
            return annotation
