"""Each subject's compatibility level, from `compatibility.toml` beside the schemas (BACKWARD unless it says)."""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from infra.registry.compatibility import LEVELS

FILE_NAME = "compatibility.toml"
DEFAULT_LEVEL = "BACKWARD"


class LevelsError(Exception):
    """The compatibility file cannot be used."""


@dataclass(frozen=True)
class CompatibilityLevels:
    default: str = DEFAULT_LEVEL
    subjects: dict[str, str] = field(default_factory=dict)

    def of(self, subject: str) -> str:
        return self.subjects.get(subject, self.default)


def load_levels(schemas_dir: Path) -> CompatibilityLevels:
    """The levels in schemas_dir/compatibility.toml; without that file every subject is BACKWARD."""
    path = schemas_dir / FILE_NAME
    if not path.exists():
        return CompatibilityLevels()
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise LevelsError(f"{path}: not valid TOML ({error})") from None
    default = str(data.get("default", DEFAULT_LEVEL)).upper()
    subjects = {str(k): str(v).upper() for k, v in dict(data.get("subjects", {})).items()}
    for name, level in [("default", default), *subjects.items()]:
        if level not in LEVELS:
            raise LevelsError(f"{path}: {name} has unknown level {level!r}; known: {', '.join(LEVELS)}")
    return CompatibilityLevels(default, subjects)
