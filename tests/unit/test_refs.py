"""Template references ``${{ root.path }}``: finding, scanning and rendering."""

from __future__ import annotations

from typing import Any

import pytest

from golive.spec import refs


def test_find_refs_splits_dotted_paths_and_indexes() -> None:
    """A reference is split into its root and parts; list indexes become parts."""
    found = list(refs.find_refs("curl ${{ vars.base_url }}/x?id=${{ steps.deploy.output.items[0].id }}"))
    assert [r.parts for r in found] == [
        ("vars", "base_url"),
        ("steps", "deploy", "output", "items", "0", "id"),
    ]
    assert found[0].root == "vars"
    assert found[1].text == "steps.deploy.output.items[0].id"


def test_find_refs_ignores_text_without_references() -> None:
    """Plain text and single braces are not references."""
    assert list(refs.find_refs("echo {not} ${HOME} $${x}")) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${{ }}", "empty reference"),
        ("${{ vars..x }}", "malformed reference"),
        ("${{ vars.x + 1 }}", "malformed reference"),
        ("${{ secret.token }}", "unknown reference root 'secret'"),
    ],
)
def test_find_refs_refuses_malformed(text: str, fragment: str) -> None:
    """An empty, malformed or unknown-root reference raises RefError naming the problem."""
    with pytest.raises(refs.RefError, match=fragment):
        list(refs.find_refs(text))


def test_every_documented_root_is_accepted() -> None:
    """vars, secrets, steps, release, run, roles and env are the roots."""
    for root in refs.ROOTS:
        (ref,) = refs.find_refs("${{ " + root + ".x }}")
        assert ref.root == root


def test_scan_yields_the_path_of_each_string() -> None:
    """scan walks nested mappings and lists and reports where each reference (or error) is."""
    data = {"a": [{"b": "${{ vars.x }}"}, "plain"], "c": "${{ nope.y }}"}
    out = list(refs.scan(data))
    assert out[0][0] == ("a", 0, "b")
    assert isinstance(out[0][1], refs.Ref)
    assert out[1][0] == ("c",)
    assert isinstance(out[1][1], refs.RefError)


def _resolver(values: dict[str, Any]) -> Any:
    def resolve(ref: refs.Ref) -> Any:
        return values[ref.text]

    return resolve


def test_render_keeps_the_type_of_a_whole_reference() -> None:
    """A string that is exactly one reference becomes the referenced value, type and all."""
    out = refs.render(
        {"port": "${{ vars.port }}", "on": " ${{ vars.on }} "}, _resolver({"vars.port": 8080, "vars.on": True})
    )
    assert out == {"port": 8080, "on": True}


def test_render_interpolates_inside_text() -> None:
    """References inside longer text are replaced by their text form (booleans as true/false, None as '')."""
    out = refs.render(
        ["${{ vars.host }}:${{ vars.port }}", "flag=${{ vars.on }} x=${{ vars.none }}"],
        _resolver({"vars.host": "db", "vars.port": 5432, "vars.on": False, "vars.none": None}),
    )
    assert out == ["db:5432", "flag=false x="]


def test_render_leaves_non_strings_alone() -> None:
    """Numbers, booleans and None inside the data pass through unchanged."""
    data = {"a": 1, "b": [True, None, 2.5]}
    assert refs.render(data, _resolver({})) == {"a": 1, "b": [True, None, 2.5]}


def test_lookup_follows_keys_and_indexes() -> None:
    """lookup walks mapping keys and list indexes, and names the missing part."""
    root = {"items": [{"id": 7}]}
    assert refs.lookup(root, ("items", "0", "id"), "x") == 7
    with pytest.raises(refs.RefError, match="no 'name'"):
        refs.lookup(root, ("items", "0", "name"), "steps.s.output.items[0].name")
    with pytest.raises(refs.RefError, match="no '3'"):
        refs.lookup(root, ("items", "3"), "x")
