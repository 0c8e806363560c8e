"""Compiling a stack's templates: submitted inputs, stored templates, and what derives from them.

The engine compiles a template whenever it needs the definitions (at submit
time, for rollback targets, for deletion policies and outputs). Stored
templates are self-contained (files and environment included), so compiling
them again gives the same result without reading the disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from storage import ResourceRecord, StackRecord, TemplateRecord
from supervisor.engine import Engine
from supervisor.errors import InputError, TemplateError
from supervisor.inputs import Inputs, with_parameters
from supervisor.legacy import PolicyOf
from supervisor.rows import Rows
from supervisor.template import (
    CompiledTemplate,
    DeletionPolicy,
    StackIdentity,
    compile_template,
    merge_environments,
)

HIDDEN = "******"


def compile_inputs(engine: Engine, stack_name: str, stack_id: str,
                   inputs: Inputs) -> CompiledTemplate:
    """Compile submitted inputs; errors name the template file."""
    try:
        return compile_template(
            inputs.template, files=inputs.files, environment=inputs.environment, parameters={},
            identity=StackIdentity(stack_name=stack_name, stack_id=stack_id,
                                   project_id=engine.config.project_id),
            registry=engine.registry, limits=engine.config.limits,
        )
    except TemplateError as err:
        if err.source is not None:
            raise
        raise TemplateError(err.path, err.reason, source=inputs.source) from None


def inputs_of(record: TemplateRecord, source: str = "stored template") -> Inputs:
    return Inputs(template=record.template, files=record.files,
                  environment=record.environment, source=source)


async def load_template(engine: Engine, stack: StackRecord, template_id: str) -> TemplateRecord:
    record = await engine.store.get_template(template_id)
    if record is None:
        raise InputError(f"stack {stack.name!r}: template {template_id} is missing from the store",
                         stack=stack.name)
    return record


async def compile_stored(engine: Engine, stack: StackRecord, template_id: str) -> CompiledTemplate:
    record = await load_template(engine, stack, template_id)
    return compile_inputs(engine, stack.name, stack.id,
                          inputs_of(record, f"stack {stack.name} template"))


async def update_inputs(engine: Engine, stack: StackRecord, inputs: Inputs | None,
                        environments: Iterable[Mapping[str, Any]], parameters: Mapping[str, str],
                        *, existing: bool) -> Inputs:
    """The inputs of an update: new ones, or (`existing`) the stack's own with changes on top."""
    if not existing:
        if inputs is None:
            raise InputError("stack update needs a template (-t) unless --existing is given")
        return inputs
    if stack.template_id is None:
        raise InputError(f"stack {stack.name!r} has no template to reuse", stack=stack.name)
    stored = await load_template(engine, stack, stack.template_id)
    environment = with_parameters(
        merge_environments([stored.environment, *environments]), parameters)
    if inputs is None:
        return Inputs(template=stored.template, files=stored.files, environment=environment,
                      source=f"stack {stack.name} template")
    return Inputs(template=inputs.template, files=inputs.files, environment=environment,
                  source=inputs.source)


def display_parameters(compiled: CompiledTemplate) -> dict[str, Any]:
    """Parameter values as `stack show` lists them: hidden ones masked."""
    return {
        name: HIDDEN if name in compiled.hidden_parameters else value
        for name, value in compiled.parameters.items()
    }


async def policies_for(engine: Engine, stack: StackRecord, rows: Rows) -> PolicyOf:
    """The deletion policy of each row, from the template it was last applied with."""
    compiled: dict[str, CompiledTemplate | None] = {}
    for template_id in {row.template_id for row in rows if row.template_id is not None}:
        try:
            compiled[template_id] = await compile_stored(engine, stack, template_id)
        except (TemplateError, InputError):
            compiled[template_id] = None

    def policy_of(row: ResourceRecord) -> DeletionPolicy:
        template = compiled.get(row.template_id or "")
        definition = None if template is None else template.resources.get(row.name)
        return DeletionPolicy.DELETE if definition is None else definition.deletion_policy

    return policy_of


async def purge_templates(engine: Engine, stack: StackRecord, rows: Rows,
                          candidates: Iterable[str | None]) -> None:
    """Delete candidate templates that neither the stack nor any of its rows refers to."""
    kept = {stack.template_id, stack.prev_template_id} | {row.template_id for row in rows}
    for template_id in candidates:
        if template_id is not None and template_id not in kept:
            await engine.store.delete_template(template_id)
