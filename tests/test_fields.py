"""The field table (core.kernel.fields) is the one declaration: validation, the CLI, the schema and
the dashboard's ranges all come from it."""
from __future__ import annotations

import json

import jsonschema
import pytest

from core.algorithms.builtin import algorithms_reading

from core.cli import build_parser, main
from core.kernel.fields import BY_NAME, FIELDS, json_schema
from core.kernel.spec import RunSpec, SpecError, make_spec
from ui.state import FIELD_RANGES


def test_schema_is_valid_json_schema_with_a_description_per_field(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]) == {f.url_name for f in FIELDS}
    assert all(entry["description"] for entry in schema["properties"].values())


def test_a_canonical_spec_satisfies_the_schema_and_a_bad_one_does_not():
    validator = jsonschema.Draft202012Validator(json_schema())
    spec = make_spec(model="mlp", dataset="gaussian", step_sizes=(0.5, 2.0), seeds=(0, 1))
    document = {BY_NAME[name].url_name: (list(v) if isinstance(v, tuple) else v)
                for name in spec.relevant_fields() for v in [getattr(spec, name)]}
    validator.validate(document)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(dict(document, max_iters=0))          # negative control


def test_every_field_has_a_flag_and_the_defaults_are_the_tables():
    help_text = " ".join(action.option_strings[0] for command in
                         build_parser()._subparsers._group_actions[0].choices.values()
                         for action in command._actions if action.option_strings)
    for field in FIELDS:
        flag = ("--no-" + field.flag[2:]) if field.kind is bool and field.default else field.flag
        assert flag in help_text, flag
        assert getattr(RunSpec(), field.name) == field.default


@pytest.mark.parametrize("field", [f for f in FIELDS if f.low is not None and f.name not in
                                   ("n", "d", "a", "b", "classes", "phi", "tol", "kernel_size",
                                    "channels", "conv_layers")], ids=lambda f: f.name)
def test_out_of_range_values_are_refused_naming_the_field(field):
    value = field.high * 10 + 1 if field.high > 0 else field.low - 1
    value = field.kind(value)
    readers = algorithms_reading(field.name)      # an update rule's field: with that rule
    context = {"algorithm": readers[0]} if readers else {}
    with pytest.raises(SpecError) as caught:
        make_spec(**{field.name: (value,) if field.is_list else value}, **context)
    assert caught.value.field == field.url_name


def test_the_dashboard_ranges_of_spec_fields_come_from_the_table():
    for field in FIELDS:
        if field.low is not None and field.url_name in FIELD_RANGES:
            assert FIELD_RANGES[field.url_name] == (field.low, field.high)
