"""s2n-tls's policy tables, read from its C source into Python values (for ``_generate``).

Which files are read, and the one build-dependent macro that is decided here:
``EVP_APIS_SUPPORTED`` is 1 with both libcryptos the bridge builds against (OpenSSL 3.0
and aws-lc are at least "OpenSSL 1.1.0" and neither BoringSSL nor LibreSSL), which puts
x25519 in the ECC preference lists. What differs between those libcryptos at run time
(post-quantum key exchange, RC4, ML-DSA) is kept in the data and applied by ``engine.policies``.

s2n names libcrypto objects by NID (``NID_ecdsa_with_SHA384``); their OIDs, which is what a
certificate carries, come from aws-lc's ``include/openssl/nid.h`` next to s2n in the sdist
(the classic objects have the same names and OIDs in OpenSSL).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from engine.policies._csource import CProgram, CSourceError, Initializer, array_length_of, reference, string_literal
from engine.policies._schema import CertificateKeyInfo, CipherSuiteInfo, CurveInfo, KemGroupInfo, SignatureSchemeInfo

__all__ = ["KemPreferences", "Model", "Policy", "load", "read_libcrypto_oids", "read_model"]

ASSUMED_MACROS = {"EVP_APIS_SUPPORTED": "1"}
HEADERS = ("api/s2n.h", "tls/s2n_tls_parameters.h", "crypto/s2n_ecc_evp.h", "tls/s2n_kem.h")
SOURCES = (
    "crypto/s2n_ecc_evp.c",
    "tls/s2n_kex.c",
    "tls/s2n_cipher_suites.c",
    "tls/s2n_cipher_preferences.c",
    "tls/s2n_ecc_preferences.c",
    "tls/s2n_kem.c",
    "tls/s2n_kem_preferences.c",
    "tls/s2n_signature_scheme.c",
    "tls/s2n_certificate_keys.c",
    "tls/s2n_supported_group_preferences.c",
    "tls/s2n_security_policies.c",
)
NID_HEADER = Path("..", "aws-lc", "include", "openssl", "nid.h")  # relative to the s2n root
_OBJ_DEFINE = re.compile(r"^#define OBJ_(\w+) ((?:\d+L, )*\d+L)$", re.MULTILINE)
T = TypeVar("T")


@dataclass(frozen=True)
class KemPreferences:
    """A ``struct s2n_kem_preferences``: TLS 1.3 KEM groups, TLS 1.2 KEM count, hybrid draft revision."""

    groups: tuple[int, ...]
    tls12_kem_count: int
    draft_revision: int


@dataclass(frozen=True)
class Policy:
    """A ``struct s2n_security_policy``, its preference lists still named by struct."""

    minimum_version: int
    ciphers: str
    kem: str
    signatures: str
    certificate_signatures: str | None
    ecc: str
    strongly_preferred: str | None
    certificate_keys: str | None
    apply_locally: bool
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Model:
    """Every table the data module is written from, keyed by s2n's struct names or IANA values."""

    suites: dict[int, CipherSuiteInfo]
    key_exchanges: dict[str, tuple[str, ...]]
    curves: dict[int, CurveInfo]
    kem_groups: dict[int, KemGroupInfo]
    signature_schemes: dict[int, SignatureSchemeInfo]
    certificate_key_info: dict[str, CertificateKeyInfo]
    libcrypto_oids: dict[str, str]
    cipher_preferences: dict[str, tuple[int, ...]]
    chacha20_boosting: dict[str, bool]
    ecc: dict[str, tuple[int, ...]]
    kem: dict[str, KemPreferences]
    signatures: dict[str, tuple[int, ...]]
    certificate_keys: dict[str, tuple[str, ...]]
    strongly_preferred: dict[str, tuple[int, ...]]
    policies: dict[str, Policy]
    selection: dict[str, str]
    client_hello_extensions: tuple[tuple[int, str], ...]

    def key_exchange_includes(self, suite: int, query: str) -> bool:
        """``s2n_kex_includes(suite->key_exchange_alg, query)``: the kex itself or a hybrid part."""
        kex = self.suites[suite].key_exchange
        return kex == query or query in self.key_exchanges.get(kex, ())


def load(root: Path) -> CProgram:
    """Read the s2n-tls files that declare the policies and everything they refer to."""
    if not (root / "tls" / "s2n_security_policies.c").is_file():
        raise FileNotFoundError(f"no s2n-tls source at {root} (run: tlsdiff build)")
    program = CProgram(assumed=ASSUMED_MACROS)
    for relative in (*HEADERS, *SOURCES):
        program.read(root / relative)
    for extension in sorted((root / "tls" / "extensions").glob("*.c")):
        program.read(extension)
    return program


def wire_version(program: CProgram, text: str) -> int:
    """An s2n protocol version (``S2N_TLS12`` = 33) as its wire value (0x0303); 0 stays 0."""
    code = program.integer(text)
    return 0 if code == 0 else (code // 10) << 8 | code % 10


def array_items(program: CProgram, name: str) -> list[str]:
    """The items of a C array, with list macros (``S2N_TLS13_CIPHER_SUITES_...``) expanded."""
    items: list[str] = []
    for value in program.definition(name).initializer.values():
        expanded = program.expand(value).replace("(", " ").replace(")", " ")
        items += [item.strip() for item in expanded.split(",") if item.strip()]
    return items


def preference_lists(
    program: CProgram, type_name: str, items_field: str, count_field: str, resolve: Callable[[str], T]
) -> dict[str, tuple[T, ...]]:
    """Every ``{ .count = s2n_array_len(list), .items = list }`` struct of a type, resolved."""
    result: dict[str, tuple[T, ...]] = {}
    for definition in program.definitions_of(type_name):
        array = definition.initializer.scalar(items_field)
        items = [] if array == "NULL" else array_items(program, array)
        count_text = definition.initializer.scalar(count_field)
        counted = array_length_of(count_text)
        count = len(items) if counted == array else program.integer(count_text)
        if counted not in (None, array) or count != len(items):
            raise CSourceError(f"{definition.location}: {count_field} does not match {array}")
        result[definition.name] = tuple(resolve(item) for item in items)
    return result


def iana_by_struct(program: CProgram, type_name: str, field: str) -> dict[str, int]:
    """``{struct name: its IANA value}`` for every definition of a type."""
    return {d.name: program.integer(d.initializer.scalar(field)) for d in program.definitions_of(type_name)}


def unique_iana(by_struct: dict[str, int], *, allow_zero: bool = False) -> dict[str, int]:
    """``by_struct``, checked that no two structs share an IANA value.

    With ``allow_zero``, any number of structs may use 0 (s2n's "none" curve and its
    test-only placeholder do): 0 is never a real code point there.
    """
    seen: dict[int, str] = {}
    for name, value in by_struct.items():
        if value in seen and not (allow_zero and value == 0):
            raise CSourceError(f"{name} and {seen[value]} share the IANA value {value:#06x}")
        seen[value] = name
    return by_struct


def record_algorithms(suite: Initializer) -> list[str]:
    """A suite's record algorithms in s2n's order of preference (``.all_record_algs``, else ``.record_alg``)."""
    listed = suite.field("all_record_algs", Initializer(()))
    if isinstance(listed, Initializer) and listed.items:
        return [reference(value) for value in listed.values()]
    return [reference(suite.field("record_alg"))]


def read_suites(program: CProgram) -> tuple[dict[str, int], dict[int, CipherSuiteInfo]]:
    """Cipher suites: IANA value by struct name, and their rows by IANA value."""
    ciphers = {d.name: reference(d.initializer.field("cipher")) for d in program.definitions_of("s2n_record_algorithm")}
    by_struct: dict[str, int] = {}
    suites: dict[int, CipherSuiteInfo] = {}
    for definition in program.definitions_of("s2n_cipher_suite"):
        init = definition.initializer
        high, low = program.integers(", ".join(init.nested("iana_value").values()))
        if high << 8 | low in suites:
            raise CSourceError(f"{definition.location}: a second cipher suite with IANA value {high:02x}{low:02x}")
        by_struct[definition.name] = high << 8 | low
        suites[high << 8 | low] = CipherSuiteInfo(
            name=string_literal(init.field("name")),
            minimum_version=wire_version(program, init.scalar("minimum_required_tls_version", "0")),
            record_ciphers=tuple(ciphers[name].removeprefix("s2n_") for name in record_algorithms(init)),
            key_exchange=reference(init.field("key_exchange_alg")).removeprefix("s2n_"),
        )
    return by_struct, suites


def read_key_exchanges(program: CProgram) -> dict[str, tuple[str, ...]]:
    """Each ``struct s2n_kex`` and the key exchanges a hybrid one is made of."""
    result: dict[str, tuple[str, ...]] = {}
    for definition in program.definitions_of("s2n_kex"):
        hybrid = definition.initializer.field("hybrid", Initializer(()))
        parts = hybrid.values() if isinstance(hybrid, Initializer) else []
        result[definition.name.removeprefix("s2n_")] = tuple(reference(v).removeprefix("s2n_") for v in parts)
    return result


def read_curves(program: CProgram) -> tuple[dict[str, int], dict[int, CurveInfo]]:
    """ECC curves: IANA value by struct name, and name and key share size by IANA value (0, "none", left out)."""
    by_struct = unique_iana(iana_by_struct(program, "s2n_ecc_named_curve", "iana_id"), allow_zero=True)
    rows = {
        by_struct[d.name]: CurveInfo(
            string_literal(d.initializer.field("name")), program.integer(d.initializer.scalar("share_size", "0"))
        )
        for d in program.definitions_of("s2n_ecc_named_curve")
        if by_struct[d.name] != 0
    }
    return by_struct, rows


def read_kem_groups(program: CProgram, curves: dict[str, int]) -> tuple[dict[str, int], dict[int, KemGroupInfo]]:
    """TLS 1.3 KEM groups: IANA value by struct name, and their rows by IANA value."""
    kems = {d.name: d.initializer for d in program.definitions_of("s2n_kem")}
    by_struct = unique_iana(iana_by_struct(program, "s2n_kem_group", "iana_id"))
    rows: dict[int, KemGroupInfo] = {}
    for definition in program.definitions_of("s2n_kem_group"):
        init = definition.initializer
        kem = kems[reference(init.field("kem"))]
        rows[by_struct[definition.name]] = KemGroupInfo(
            name=string_literal(init.field("name")),
            curve=curves[reference(init.field("curve"))],
            kem=string_literal(kem.field("name")),
            kem_public_key_size=program.integer(kem.scalar("public_key_length")),
            send_kem_first=program.integer(init.scalar("send_kem_first", "0")) != 0,
        )
    return by_struct, rows


def read_kem_preferences(program: CProgram, kem_groups: dict[str, int]) -> dict[str, KemPreferences]:
    """Every ``struct s2n_kem_preferences``."""
    groups = preference_lists(
        program, "s2n_kem_preferences", "tls13_kem_groups", "tls13_kem_group_count", lambda v: kem_groups[reference(v)]
    )
    result: dict[str, KemPreferences] = {}
    for definition in program.definitions_of("s2n_kem_preferences"):
        init = definition.initializer
        result[definition.name] = KemPreferences(
            groups[definition.name],
            program.integer(init.scalar("kem_count")),
            program.integer(init.scalar("tls13_pq_hybrid_draft_revision")),
        )
    return result


def read_signature_schemes(program: CProgram) -> tuple[dict[str, int], dict[int, SignatureSchemeInfo]]:
    """Signature schemes: IANA value by struct name, and their rows by IANA value."""
    by_struct = unique_iana(iana_by_struct(program, "s2n_signature_scheme", "iana_value"))
    rows = {
        by_struct[d.name]: SignatureSchemeInfo(
            name=string_literal(d.initializer.field("name")),
            signature_algorithm=d.initializer.scalar("sig_alg").removeprefix("S2N_SIGNATURE_").lower(),
            minimum_version=wire_version(program, d.initializer.scalar("minimum_protocol_version", "0")),
            maximum_version=wire_version(program, d.initializer.scalar("maximum_protocol_version", "0")),
            libcrypto_nid=nid_name(d.initializer.scalar("libcrypto_nid", "0")),
        )
        for d in program.definitions_of("s2n_signature_scheme")
    }
    return by_struct, rows


def nid_name(text: str) -> str:
    """A libcrypto NID as s2n writes it (``NID_rsassaPss``), by name: ``rsassaPss``; 0 is ``undef``.

    ``S2N_NID_MLDSA87`` (crypto/s2n_mldsa.h) is ``NID_MLDSA87`` on a libcrypto with ML-DSA and
    NID_undef elsewhere: that build-dependent choice is left to ``engine.policies``.
    """
    if text in ("0", "NID_undef"):
        return "undef"
    for prefix in ("S2N_NID_", "NID_"):
        if text.startswith(prefix) and re.fullmatch(r"\w+", text):
            return text.removeprefix(prefix)
    raise CSourceError(f"not a libcrypto NID: {text!r}")


def read_certificate_keys(program: CProgram) -> dict[str, CertificateKeyInfo]:
    """Every ``struct s2n_certificate_key``, by its s2n name (``ecdsa_p256``)."""
    return {
        string_literal(d.initializer.field("name")): CertificateKeyInfo(
            nid_name(d.initializer.scalar("public_key_libcrypto_nid")), program.integer(d.initializer.scalar("bits"))
        )
        for d in program.definitions_of("s2n_certificate_key")
    }


def read_libcrypto_oids(root: Path) -> dict[str, str]:
    """``{NID name: dotted OID}`` for every object aws-lc's nid.h gives an OID (``OBJ_<name>``)."""
    header = root / NID_HEADER
    if not header.is_file():
        raise FileNotFoundError(f"no aws-lc nid.h at {header} (s2n must come from the awscrt sdist)")
    text = header.read_text(encoding="utf-8")
    return {
        match.group(1): ".".join(arc.strip().removesuffix("L") for arc in match.group(2).split(","))
        for match in _OBJ_DEFINE.finditer(text)
    }


def read_policy(program: CProgram, init: Initializer) -> Policy:
    """One ``struct s2n_security_policy`` initializer."""

    def optional(name: str) -> str | None:
        value = init.scalar(name, "NULL")
        return None if value == "NULL" else reference(value)

    rules = init.field("rules", Initializer(()))
    enabled = rules.designated() if isinstance(rules, Initializer) else {}
    return Policy(
        minimum_version=wire_version(program, init.scalar("minimum_protocol_version")),
        ciphers=reference(init.field("cipher_preferences")),
        kem=reference(init.field("kem_preferences")),
        signatures=reference(init.field("signature_preferences")),
        certificate_signatures=optional("certificate_signature_preferences"),
        ecc=reference(init.field("ecc_preferences")),
        strongly_preferred=optional("strongly_preferred_groups"),
        certificate_keys=optional("certificate_key_preferences"),
        apply_locally=init.scalar("certificate_preferences_apply_locally", "false") == "true",
        rules=tuple(rule.strip("[]").removeprefix("S2N_") for rule, value in enabled.items() if value == "true"),
    )


def read_selection(program: CProgram) -> dict[str, str]:
    """``security_policy_selection[]``: policy name -> policy struct name, in s2n's order."""
    selection: dict[str, str] = {}
    for _, entry in program.definition("security_policy_selection").initializer.items:
        if not isinstance(entry, Initializer) or entry.scalar("version") == "NULL":
            continue
        selection[string_literal(entry.field("version"))] = reference(entry.field("security_policy"))
    return selection


def read_client_hello_extensions(program: CProgram) -> tuple[tuple[int, str], ...]:
    """``client_hello_extensions[]``: s2n's emission order, as (IANA value, extension struct name)."""
    iana = iana_by_struct(program, "s2n_extension_type", "iana_value")
    names = [reference(value) for value in program.definition("client_hello_extensions").initializer.values()]
    return tuple((iana[name], name.removeprefix("s2n_").removesuffix("_extension")) for name in names)


def read_model(program: CProgram, libcrypto_oids: dict[str, str]) -> Model:
    """Resolve every table the data module needs (``libcrypto_oids``: from ``read_libcrypto_oids``)."""
    suite_iana, suites = read_suites(program)
    curve_iana, curves = read_curves(program)
    kem_group_iana, kem_groups = read_kem_groups(program, curve_iana)
    scheme_iana, schemes = read_signature_schemes(program)
    key_names = {
        d.name: string_literal(d.initializer.field("name")) for d in program.definitions_of("s2n_certificate_key")
    }
    return Model(
        suites=suites,
        key_exchanges=read_key_exchanges(program),
        curves=curves,
        kem_groups=kem_groups,
        signature_schemes=schemes,
        certificate_key_info=read_certificate_keys(program),
        libcrypto_oids=libcrypto_oids,
        cipher_preferences=preference_lists(
            program, "s2n_cipher_preferences", "suites", "count", lambda v: suite_iana[reference(v)]
        ),
        chacha20_boosting={
            d.name: d.initializer.scalar("allow_chacha20_boosting", "false") == "true"
            for d in program.definitions_of("s2n_cipher_preferences")
        },
        ecc=preference_lists(program, "s2n_ecc_preferences", "ecc_curves", "count", lambda v: curve_iana[reference(v)]),
        kem=read_kem_preferences(program, kem_group_iana),
        signatures=preference_lists(
            program, "s2n_signature_preferences", "signature_schemes", "count", lambda v: scheme_iana[reference(v)]
        ),
        certificate_keys=preference_lists(
            program, "s2n_certificate_key_preferences", "certificate_keys", "count", lambda v: key_names[reference(v)]
        ),
        strongly_preferred=preference_lists(
            program, "s2n_supported_group_preferences", "iana_ids", "count", program.integer
        ),
        policies={d.name: read_policy(program, d.initializer) for d in program.definitions_of("s2n_security_policy")},
        selection=read_selection(program),
        client_hello_extensions=read_client_hello_extensions(program),
    )
