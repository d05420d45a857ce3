"""A safetensors header is read within the file: a hostile length field is refused, not allocated."""
import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from lab.errors import LabError
from lab.models.info import count_params, safetensors_header


def test_a_real_file_gives_its_tensors(tmp_path):
    save_file({"w": torch.zeros(3, 4), "b": torch.zeros(4)}, str(tmp_path / "model.safetensors"))
    header = safetensors_header(tmp_path / "model.safetensors")
    assert header["w"]["shape"] == [3, 4] and header["b"]["dtype"] == "F32"
    assert count_params(tmp_path) == (16, "F32")


@pytest.mark.parametrize("body", [
    struct.pack("<Q", 2**62) + b"{}",  # a length far past the file: must not be read (or allocated)
    struct.pack("<Q", 100) + b"{}",  # past the end
    struct.pack("<Q", 0),  # no header
    b"\x01\x02",  # shorter than the length field
    struct.pack("<Q", 4) + b"\xff\xfe{}",  # not UTF-8 JSON
    struct.pack("<Q", 2) + b"[]",  # JSON, not a header
])
def test_a_broken_header_is_refused_by_the_files_name(tmp_path, body):
    path = tmp_path / "evil.safetensors"
    path.write_bytes(body)
    with pytest.raises(LabError) as err:
        safetensors_header(path)
    assert err.value.field == "model" and "evil.safetensors" in str(err.value) and str(tmp_path) not in str(err.value)


def test_the_header_length_is_bounded_by_the_file(tmp_path):
    text = json.dumps({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    path = tmp_path / "ok.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"\0" * 4)
    assert safetensors_header(path)["x"]["shape"] == [1]
