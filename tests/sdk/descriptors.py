#!/usr/bin/env python3
"""authgate's gRPC wire definitions against the official Scalekit Python SDK's descriptors.

    descriptors.py compare OURS.fds   exit 1 unless every message, enum and method that authgate
                                      serves (the FileDescriptorSet the server's build emits)
                                      matches the installed `scalekit-sdk-python` field by field
    descriptors.py emit OUT_DIR       write .proto sources for the served subset, recovered from
                                      the SDK's descriptors (how server/proto was first drafted)

Run with the Python of a venv that has `scalekit-sdk-python` installed. Compared per field: name,
number, type, label, type_name, oneof membership, proto3 `optional`, json_name; per enum: value
names and numbers; per method: input and output types, streaming flags.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator

from google.protobuf import descriptor_pb2

# The SDK modules that define what authgate serves.
SDK_MODULES = [
    "scalekit.v1.tokens.tokens_pb2",
    "scalekit.v1.organizations.organizations_pb2",
    "scalekit.v1.users.users_pb2",
    "scalekit.v1.clients.clients_pb2",
    "scalekit.v1.errdetails.errdetails_pb2",
    "scalekit.v1.commons.commons_pb2",
]

# Served methods per service (the emit mode starts its closure here).
SERVED = {
    "scalekit.v1.tokens.ApiTokenService": [
        "CreateToken", "ValidateToken", "InvalidateToken", "ListTokens", "UpdateToken",
    ],
    "scalekit.v1.organizations.OrganizationService": [
        "CreateOrganization", "GetOrganization", "ListOrganization", "UpdateOrganization",
        "DeleteOrganization",
    ],
    "scalekit.v1.users.UserService": [
        "CreateUserAndMembership", "GetUser", "ListUsers", "ListOrganizationUsers", "UpdateUser",
        "DeleteUser", "CreateMembership", "UpdateMembership", "DeleteMembership",
    ],
    "scalekit.v1.clients.ClientService": [
        "CreateOrganizationClient", "GetOrganizationClient", "UpdateOrganizationClient",
        "DeleteOrganizationClient", "ListOrganizationClients", "CreateOrganizationClientSecret",
        "DeleteOrganizationClientSecret",
    ],
}
# Messages served outside any method: the error details.
EXTRA_TYPES = [".scalekit.v1.errdetails.ErrorInfo"]

F = descriptor_pb2.FieldDescriptorProto


def sdk_files() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """Every file the SDK modules define or import, by name."""
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def add(fd) -> None:
        if fd.name in files:
            return
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        files[fd.name] = proto
        for dep in fd.dependencies:
            add(dep)

    for name in SDK_MODULES:
        add(importlib.import_module(name).DESCRIPTOR)
    return files


def walk(files) -> tuple[dict, dict, dict]:
    """Full name → (file, DescriptorProto | EnumDescriptorProto | ServiceDescriptorProto)."""
    messages, enums, services = {}, {}, {}

    def visit(fd, prefix, msgs, ens):
        for e in ens:
            enums[f"{prefix}.{e.name}"] = (fd, e)
        for m in msgs:
            full = f"{prefix}.{m.name}"
            messages[full] = (fd, m)
            visit(fd, full, m.nested_type, m.enum_type)

    for fd in files.values():
        prefix = "." + fd.package if fd.package else ""
        visit(fd, prefix, fd.message_type, fd.enum_type)
        for s in fd.service:
            services[f"{prefix}.{s.name}"] = (fd, s)
    return messages, enums, services


LABELS = {F.LABEL_OPTIONAL: "optional", F.LABEL_REPEATED: "repeated", F.LABEL_REQUIRED: "required"}
TYPES = {v: k[len("TYPE_"):].lower() for k, v in F.Type.items()}


def field_signature(message, field) -> dict:
    oneof = None
    if field.HasField("oneof_index") and not field.proto3_optional:
        oneof = message.oneof_decl[field.oneof_index].name
    return {
        "name": field.name,
        "number": field.number,
        "type": TYPES[field.type],
        "label": LABELS[field.label],
        "type_name": field.type_name,
        "oneof": oneof,
        "proto3_optional": field.proto3_optional,
        "json_name": field.json_name,
    }


def compare(ours_path: str) -> int:
    ours = descriptor_pb2.FileDescriptorSet()
    with open(ours_path, "rb") as f:
        ours.ParseFromString(f.read())
    our_files = {fd.name: fd for fd in ours.file if fd.package.startswith("scalekit.")}
    if not our_files:
        print(f"no scalekit.* files in {ours_path}")
        return 1
    o_msgs, o_enums, o_svcs = walk(our_files)
    s_msgs, s_enums, s_svcs = walk(sdk_files())
    problems: list[str] = []
    fields = 0

    for name, (fd, msg) in sorted(o_msgs.items()):
        if name not in s_msgs:
            problems.append(f"message {name}: not in the SDK")
            continue
        sdk_fd, sdk_msg = s_msgs[name]
        if fd.name != sdk_fd.name:
            problems.append(f"message {name}: in {fd.name}, the SDK has it in {sdk_fd.name}")
        if msg.options.map_entry != sdk_msg.options.map_entry:
            problems.append(f"message {name}: map_entry differs")
        ours_f = {f.number: field_signature(msg, f) for f in msg.field}
        sdk_f = {f.number: field_signature(sdk_msg, f) for f in sdk_msg.field}
        for number in sorted(set(ours_f) | set(sdk_f)):
            a, b = ours_f.get(number), sdk_f.get(number)
            if a is None:
                problems.append(f"message {name}: field {b['name']} = {number} missing")
            elif b is None:
                problems.append(f"message {name}: field {a['name']} = {number} not in the SDK")
            elif a != b:
                diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
                problems.append(f"message {name}: field {number} differs (ours, sdk): {diff}")
            else:
                fields += 1
    for name, (_, enum) in sorted(o_enums.items()):
        if name not in s_enums:
            problems.append(f"enum {name}: not in the SDK")
            continue
        a = [(v.name, v.number) for v in enum.value]
        b = [(v.name, v.number) for v in s_enums[name][1].value]
        if a != b:
            problems.append(f"enum {name}: values differ: {a} != {b}")
    methods = 0
    for name, (_, svc) in sorted(o_svcs.items()):
        if name not in s_svcs:
            problems.append(f"service {name}: not in the SDK")
            continue
        sdk_methods = {m.name: m for m in s_svcs[name][1].method}
        for m in svc.method:
            s = sdk_methods.get(m.name)
            if s is None:
                problems.append(f"method {name}/{m.name}: not in the SDK")
                continue
            for attr in ("input_type", "output_type", "client_streaming", "server_streaming"):
                if getattr(m, attr) != getattr(s, attr):
                    problems.append(f"method {name}/{m.name}: {attr} differs")
            methods += 1
        missing = set(SERVED.get(name[1:], [])) - {m.name for m in svc.method}
        for m in sorted(missing):
            problems.append(f"method {name}/{m}: served but not declared")
    for p in problems:
        print("MISMATCH", p)
    print(
        f"compared {len(o_msgs)} messages ({fields} fields), {len(o_enums)} enums, "
        f"{methods} methods in {len(our_files)} files: {len(problems)} mismatches"
    )
    return 1 if problems else 0


# --- emit -------------------------------------------------------------------------------------

SCALAR = {F.TYPE_DOUBLE: "double", F.TYPE_FLOAT: "float", F.TYPE_INT64: "int64",
          F.TYPE_UINT64: "uint64", F.TYPE_INT32: "int32", F.TYPE_FIXED64: "fixed64",
          F.TYPE_FIXED32: "fixed32", F.TYPE_BOOL: "bool", F.TYPE_STRING: "string",
          F.TYPE_BYTES: "bytes", F.TYPE_UINT32: "uint32", F.TYPE_SFIXED32: "sfixed32",
          F.TYPE_SFIXED64: "sfixed64", F.TYPE_SINT32: "sint32", F.TYPE_SINT64: "sint64"}


def emit(out_dir: str) -> int:
    files = sdk_files()
    msgs, enums, svcs = walk(files)
    wanted: set[str] = set()

    def top_level(name: str) -> str:
        # The outermost message containing `name` (nested types are emitted with their parent).
        fd = (msgs.get(name) or enums.get(name))[0]
        rest = name[len(fd.package) + 2:]
        return f".{fd.package}.{rest.split('.')[0]}"

    def need(name: str) -> None:
        if name.startswith(".google.protobuf."):
            return
        top = top_level(name)
        if top in wanted:
            return
        wanted.add(top)
        stack = [top]
        while stack:
            cur = stack.pop()
            if cur in msgs:
                m = msgs[cur][1]
                for f in m.field:
                    if f.type_name:
                        need(f.type_name)
                for n in m.nested_type:
                    stack.append(f"{cur}.{n.name}")

    for svc, methods in SERVED.items():
        s = svcs["." + svc][1]
        for m in s.method:
            if m.name in methods:
                need(m.input_type)
                need(m.output_type)
    for t in EXTRA_TYPES:
        need(t)

    def rel(type_name: str, package: str) -> str:
        return type_name[len(package) + 2:] if type_name.startswith(f".{package}.") else type_name[1:]

    def field_line(fd, msg, f, nested_maps, indent) -> str:
        if f.type in (F.TYPE_MESSAGE, F.TYPE_ENUM):
            t = rel(f.type_name, fd.package)
        else:
            t = SCALAR[f.type]
        label = ""
        if f.type_name in nested_maps:
            entry = nested_maps[f.type_name]
            k, v = entry.field[0], entry.field[1]
            kt = SCALAR[k.type]
            vt = rel(v.type_name, fd.package) if v.type_name else SCALAR[v.type]
            return f"{indent}map<{kt}, {vt}> {f.name} = {f.number};"
        if f.label == F.LABEL_REPEATED:
            label = "repeated "
        elif f.proto3_optional:
            label = "optional "
        return f"{indent}{label}{t} {f.name} = {f.number};"

    def emit_enum(e, indent) -> list[str]:
        out = [f"{indent}enum {e.name} {{"]
        for v in e.value:
            out.append(f"{indent}  {v.name} = {v.number};")
        out.append(f"{indent}}}")
        return out

    def emit_msg(fd, prefix, m, indent) -> list[str]:
        full = f"{prefix}.{m.name}"
        nested_maps = {f"{full}.{n.name}": n for n in m.nested_type if n.options.map_entry}
        out = [f"{indent}message {m.name} {{"]
        for n in m.nested_type:
            if not n.options.map_entry:
                out += emit_msg(fd, full, n, indent + "  ")
        for e in m.enum_type:
            out += emit_enum(e, indent + "  ")
        done_oneofs: set[int] = set()
        for f in m.field:
            if f.HasField("oneof_index") and not f.proto3_optional:
                idx = f.oneof_index
                if idx in done_oneofs:
                    continue
                done_oneofs.add(idx)
                out.append(f"{indent}  oneof {m.oneof_decl[idx].name} {{")
                for g in m.field:
                    if g.HasField("oneof_index") and g.oneof_index == idx and not g.proto3_optional:
                        out.append(field_line(fd, m, g, nested_maps, indent + "    "))
                out.append(f"{indent}  }}")
            else:
                out.append(field_line(fd, m, f, nested_maps, indent + "  "))
        out.append(f"{indent}}}")
        return out

    for fname, fd in sorted(files.items()):
        if not fd.package.startswith("scalekit."):
            continue
        prefix = "." + fd.package
        top_msgs = [m for m in fd.message_type if f"{prefix}.{m.name}" in wanted]
        top_enums = [e for e in fd.enum_type if f"{prefix}.{e.name}" in wanted]
        services = [s for s in fd.service if s.name and f"{prefix}.{s.name}"[1:] in SERVED]
        if not (top_msgs or top_enums or services):
            continue
        imports: set[str] = set()

        body: list[str] = []
        for e in top_enums:
            body += emit_enum(e, "") + [""]
        for m in top_msgs:
            body += emit_msg(fd, prefix, m, "") + [""]
        for s in services:
            body.append(f"service {s.name} {{")
            for meth in s.method:
                if meth.name in SERVED[f"{prefix}.{s.name}"[1:]]:
                    body.append(
                        f"  rpc {meth.name}({rel(meth.input_type, fd.package)}) "
                        f"returns ({rel(meth.output_type, fd.package)});"
                    )
            body.append("}")
            body.append("")
        refs = set()
        for name in list(wanted):
            if name in msgs and msgs[name][0].name == fd.name:
                stack = [msgs[name][1]]
                while stack:
                    m = stack.pop()
                    refs.update(f.type_name for f in m.field if f.type_name)
                    stack.extend(m.nested_type)
        for s in services:
            for meth in s.method:
                if meth.name in SERVED[f"{prefix}.{s.name}"[1:]]:
                    refs.update([meth.input_type, meth.output_type])
        for r in sorted(refs):
            if r.startswith(".google.protobuf."):
                imports.add(f"google/protobuf/{ {'.google.protobuf.Timestamp': 'timestamp', '.google.protobuf.Empty': 'empty', '.google.protobuf.FieldMask': 'field_mask', '.google.protobuf.Struct': 'struct', '.google.protobuf.Value': 'struct', '.google.protobuf.Duration': 'duration', '.google.protobuf.Any': 'any', '.google.protobuf.StringValue': 'wrappers', '.google.protobuf.BoolValue': 'wrappers', '.google.protobuf.Int32Value': 'wrappers', '.google.protobuf.ListValue': 'struct'}[r] }.proto")
            elif not r.startswith(prefix + "."):
                owner = (msgs.get(r) or enums.get(r))[0].name
                imports.add(owner)
            else:
                owner = (msgs.get(r) or enums.get(r))[0].name
                if owner != fd.name:
                    imports.add(owner)
        head = [
            "// Generated from the official Scalekit SDK's descriptors by tests/sdk/descriptors.py",
            "// (the subset authgate serves; options and validation rules left out).",
            'syntax = "proto3";',
            "",
            f"package {fd.package};",
            "",
        ]
        head += [f'import "{i}";' for i in sorted(imports)]
        path = os.path.join(out_dir, fname)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(head + ([""] if imports else []) + body).rstrip() + "\n")
        print("wrote", path)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "compare":
        return compare(argv[2])
    if len(argv) == 3 and argv[1] == "emit":
        return emit(argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
