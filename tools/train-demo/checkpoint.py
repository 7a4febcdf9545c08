"""Reading and writing .safetensors files (8-byte little-endian header length, JSON header,
raw little-endian tensor data) without the safetensors package."""
import json
import struct

import numpy as np
import torch

_DTYPES = {np.dtype("float16"): "F16", np.dtype("float32"): "F32", np.dtype("float64"): "F64",
           np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("uint8"): "U8"}
_NUMPY = {v: k for k, v in _DTYPES.items()}


def save(path, tensors, metadata=None):
    """tensors: name -> numpy array or torch tensor, written in sorted name order."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name]
        a = np.ascontiguousarray(t.detach().cpu().numpy() if torch.is_tensor(t) else t)
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load(path):
    """name -> numpy array."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=_NUMPY[e["dtype"]]).reshape(e["shape"])
    return out


def save_model(path, model):
    """The LDM single-file checkpoint: float weights as F16, position_ids as I64."""
    tensors = {}
    for name, t in model.state_dict().items():
        tensors[name] = t.to(torch.float16) if t.is_floating_point() else t.to(torch.int64)
    save(path, tensors, {"format": "pt"})


def load_model(path, model):
    """Loads a checkpoint written by save_model into model (as float32: the F16 values)."""
    state = {k: torch.from_numpy(v.astype(np.float32) if v.dtype == np.float16 else v.copy())
             for k, v in load(path).items()}
    model.load_state_dict(state)
