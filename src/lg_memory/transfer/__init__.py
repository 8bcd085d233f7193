"""Export and import of checkpoints: the engine behind `lg-memory export`, `import` and `migrate`.

- `format`: the export file format (documented there), its records, and its canonical JSON.
- `writer`: writing an export, from records or from any saver's checkpoints.
- `reader`: verifying an export whole, then reading its records.
- `values`: values in the export's form, read and written without being decoded.
- `policy`: the type policy, which classes the values of an import may rebuild.
- `importer`: importing an export, through a backend's bulk loader or the saver's API.
- `versions`: channel versions converted to the kind the target saver produces.
- `verbatim`: values read and written through a saver's API without being decoded.

The names other modules use are importable from here.
"""

from .format import (
    BUFFER,
    FORMAT,
    JSON_FIELDS,
    VERSION,
    Json,
    Key,
    Summary,
    dumps,
    make_record,
    parse_json,
)
from .importer import Loader, Unmovable, Untrusted, import_checkpoints, indexed_writes
from .policy import TRUSTED_MODULES
from .reader import Header, read_export
from .values import (
    Typed,
    pack_raw,
    plain_serde,
    raw_typed,
    raw_value,
    stored,
    typed,
    unpack_raw,
    value_bytes,
)
from .verbatim import verbatim
from .versions import align_versions
from .writer import export_checkpoints, export_records, iter_store, passing, record

__all__ = [
    "BUFFER",
    "FORMAT",
    "JSON_FIELDS",
    "TRUSTED_MODULES",
    "VERSION",
    "Header",
    "Json",
    "Key",
    "Loader",
    "Summary",
    "Typed",
    "Unmovable",
    "Untrusted",
    "align_versions",
    "dumps",
    "export_checkpoints",
    "export_records",
    "import_checkpoints",
    "indexed_writes",
    "iter_store",
    "make_record",
    "pack_raw",
    "parse_json",
    "passing",
    "plain_serde",
    "raw_typed",
    "raw_value",
    "read_export",
    "record",
    "stored",
    "typed",
    "unpack_raw",
    "value_bytes",
    "verbatim",
]
