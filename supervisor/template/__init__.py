"""HOT templates: parsing, checking and compiling them, and resolving resource properties.

`parse_template` and `parse_environment` read text; `collect_files` reads what
`get_file` needs; `compile_template` checks everything and returns a
`CompiledTemplate`, whose `resolve_properties` and `resolve_outputs` the engine
calls as resources come into being. Every problem is a `TemplateError` with
the path of the offending value.
"""

from supervisor.template.compiled import CompiledTemplate
from supervisor.template.compiler import compile_template
from supervisor.template.environment import merge_environments, parse_environment
from supervisor.template.files import collect_files
from supervisor.template.loader import parse_template
from supervisor.template.model import (
    AttrRef,
    DeletionPolicy,
    Limits,
    OutputDefinition,
    ResolvedOutput,
    ResourceData,
    ResourceDefinition,
    ResourceLookup,
    StackIdentity,
)

__all__ = [
    "AttrRef",
    "CompiledTemplate",
    "DeletionPolicy",
    "Limits",
    "OutputDefinition",
    "ResolvedOutput",
    "ResourceData",
    "ResourceDefinition",
    "ResourceLookup",
    "StackIdentity",
    "collect_files",
    "compile_template",
    "merge_environments",
    "parse_environment",
    "parse_template",
]
