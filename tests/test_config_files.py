"""Config files under abuse: each bad file gives one ConfigError naming the file and what is wrong."""

import json

import pytest

from wirelora.config import MAX_DEPTH, ConfigError, load_mapping


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("dup.yaml", b"bandwidth_hz: -1\nbandwidth_hz: 1.0e6\n", "'bandwidth_hz' given twice"),
        ("dup.json", b'{"a": {"b": 1, "b": 2}}', "'b' given twice"),
        ("nested.yaml", b"a:\n  b: 1\n  b: 2\n", "'b' given twice"),
        ("deep.json", b"[" * 20000 + b"]" * 20000, f"nested deeper than {MAX_DEPTH}"),
        ("utf16.yaml", "a: 1\n".encode("utf-16"), "not UTF-8 text"),
        ("binary.yaml", bytes(range(256)), "not UTF-8 text"),
        ("list.yaml", b"- 1\n- 2\n", "top level must be a mapping"),
        ("bad.json", b'{"a": ', "malformed JSON"),
    ],
)
def test_bad_file_gives_one_line_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_mapping(path)
    text = str(err.value)
    assert message in text and name in text and "\n" not in text


def test_block_style_nesting_is_refused_before_the_parser_recurses(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("".join("  " * i + "k:\n" for i in range(5000)))
    with pytest.raises(ConfigError, match="nested deeper"):
        load_mapping(path)


def test_a_directory_or_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not a regular file"):
        load_mapping(tmp_path)
    with pytest.raises(ConfigError, match="no such file"):
        load_mapping(tmp_path / "missing.yaml")


def test_nesting_up_to_the_limit_loads(tmp_path):
    data: dict = {}
    node = data
    for _ in range(MAX_DEPTH - 1):
        node["k"] = {}
        node = node["k"]
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(data))
    assert load_mapping(path) == data


def test_brackets_inside_a_string_are_not_nesting(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("description: '" + "[" * 100 + "'\n")
    assert load_mapping(path) == {"description": "[" * 100}
