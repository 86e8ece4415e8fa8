"""A minimal ONNX model writer: the few protobuf messages kb.embed.e5fast needs, serialised by hand.

ONNX Runtime loads a model from bytes. The `onnx` package would build them for us, but it costs a dependency and
~0.3 s of import on every process start; a graph of standard nodes needs only these fields of onnx.proto
(ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto), written in the protobuf wire format.
Field numbers are ONNX's (onnx/onnx.proto, stable since IR version 3).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

# TensorProto.DataType
FLOAT, UINT8, INT8, INT32, INT64 = 1, 2, 3, 6, 7
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int8): INT8,
           np.dtype(np.int32): INT32, np.dtype(np.int64): INT64}
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_INTS = 1, 2, 3, 7


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1                     # negative int64 → two's complement, as protobuf does
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(num: int, wire: int) -> bytes:
    return _varint((num << 3) | wire)


def _int(num: int, v: int) -> bytes:
    return _key(num, 0) + _varint(int(v))


def _bytes(num: int, v: bytes | str) -> bytes:
    if isinstance(v, str):
        v = v.encode("utf-8")
    return _key(num, 2) + _varint(len(v)) + v


def _float(num: int, v: float) -> bytes:
    return _key(num, 5) + struct.pack("<f", v)


def _attribute(name: str, value) -> bytes:
    out = _bytes(1, name)
    if isinstance(value, float):
        return out + _float(2, value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, int):
        return out + _int(3, value) + _int(20, _ATTR_INT)
    if isinstance(value, str):
        return out + _bytes(4, value) + _int(20, _ATTR_STRING)
    if isinstance(value, (list, tuple)):
        return out + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
    raise TypeError(f"attribute {name}: unsupported value {type(value).__name__}")


def tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto with raw little-endian data."""
    a = np.ascontiguousarray(array)
    if a.dtype not in _DTYPES:
        raise TypeError(f"tensor {name}: unsupported dtype {a.dtype}")
    raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    return b"".join([*(_int(1, d) for d in a.shape), _int(2, _DTYPES[a.dtype]), _bytes(8, name),
                     _key(9, 2), _varint(len(raw)), raw])


def value_info(name: str, elem_type: int, dims: list[int | str]) -> bytes:
    """ValueInfoProto of a tensor; a str dim is symbolic (e.g. "batch")."""
    shape = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


@dataclass
class Graph:
    """Nodes and initialisers added in order; `model()` serialises a ModelProto."""

    name: str
    nodes: list[bytes] = field(default_factory=list)
    initializers: list[bytes] = field(default_factory=list)
    inputs: list[bytes] = field(default_factory=list)
    outputs: list[bytes] = field(default_factory=list)
    _count: int = 0

    def node(self, op: str, inputs: list[str], outputs: list[str] | str | None = None, domain: str = "",
             **attrs) -> str:
        """Add a node; returns its (first) output name. Unnamed outputs get a fresh name."""
        self._count += 1
        if outputs is None:
            outputs = [f"{op.lower()}_{self._count}"]
        elif isinstance(outputs, str):
            outputs = [outputs]
        msg = (b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
               + _bytes(3, f"n{self._count}") + _bytes(4, op)
               + b"".join(_bytes(5, _attribute(k, v)) for k, v in attrs.items()))
        if domain:
            msg += _bytes(7, domain)
        self.nodes.append(msg)
        return outputs[0]

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(tensor(name, array))
        return name

    def input(self, name: str, elem_type: int, dims: list[int | str]) -> str:
        self.inputs.append(value_info(name, elem_type, dims))
        return name

    def output(self, name: str, elem_type: int, dims: list[int | str]) -> str:
        self.outputs.append(value_info(name, elem_type, dims))
        return name

    def model(self, opsets: dict[str, int], ir_version: int = 8, producer: str = "kb") -> bytes:
        parts = [_bytes(1, n) for n in self.nodes] + [_bytes(2, self.name)]
        for t in self.initializers:               # the weights: length-prefixed without copying them twice
            parts += [_key(5, 2), _varint(len(t)), t]
        parts += [_bytes(11, v) for v in self.inputs] + [_bytes(12, v) for v in self.outputs]
        opset = [_bytes(8, (_bytes(1, d) if d else b"") + _int(2, v)) for d, v in opsets.items()]
        head = [_int(1, ir_version), _bytes(2, producer), _key(7, 2), _varint(sum(map(len, parts)))]
        return b"".join(head + parts + opset)
