"""Loading config/: a good directory loads; every mistake names its file and its key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ak_bridge.config import load_calendars, load_partner_rules, load_settings
from ak_bridge.core.calendars import FRI, SUN, Calendars
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.retry import RetryPolicy
from ak_bridge.core.settings import Channel, Settings
from ak_bridge.standard import WSDL_DIR

MAIN = """\
[service]
database = "var/ak_bridge.db"
port = 8443

[identity]
key_file = "var/pki/bridge-key.pem"
cert_file = "var/pki/bridge-cert.pem"

[worker]
claim_seconds = 60

[retry]
max_attempts = 5
base_delay = 10
"""

PARTNERS = """\
[partners.KR-KCS]
name = "Korea Customs Service UNI-PASS"
country = "KR"
channel = "soap"
endpoint = "https://kcs.example/soap"
wsdl = "kcs/unipass-eco-1.0.wsdl"
format = "unipass"
certificates = ["var/pki/KR-KCS.pem"]

[partners.VN-ECOSYS]
country = "VN"
channel = "rest"
endpoint = "https://vn.example/rest"
format = "vn_ecosys"
certificates = ["var/pki/VN-ECOSYS.pem", "var/pki/VN-ECOSYS-next.pem"]
timeout_seconds = 5
rules = { hs_min_digits = 8 }

[partners.VN-ECOSYS.retry]
max_attempts = 10
jitter = 0

[partners.TH-OLD]
country = "TH"
channel = "rest"
endpoint = "https://th.example/rest"
certificates = ["var/pki/TH-OLD.pem"]
enabled = false

[partners.ASW]
country = "ASEAN"
channel = "asw"
endpoint = "https://asw.example/gateway"
"""

VN_FORMAT = """\
name = "vn_ecosys"
[fields]
reference_no = "SoCO"
"""

CERTS = ("KR-KCS.pem", "VN-ECOSYS.pem", "VN-ECOSYS-next.pem", "TH-OLD.pem")


def write_config(
    tmp_path: Path,
    main: str = MAIN,
    partners: str = PARTNERS,
    formats: dict[str, str] | None = None,
) -> Path:
    """A deployment root with config/ and var/pki/; returns the config directory."""
    root = tmp_path / "deploy"
    cfg = root / "config"
    (cfg / "formats").mkdir(parents=True)
    (cfg / "ak_bridge.toml").write_text(main)
    (cfg / "partners.toml").write_text(partners)
    for name, text in ({"vn_ecosys": VN_FORMAT} if formats is None else formats).items():
        (cfg / "formats" / f"{name}.toml").write_text(text)
    pki = root / "var" / "pki"
    pki.mkdir(parents=True)
    for name in CERTS:
        (pki / name).write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (root / "wsdl" / "kcs").mkdir(parents=True)
    (root / "wsdl" / "kcs" / "unipass-eco-1.0.wsdl").write_text("<definitions/>")
    return cfg


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def load(cfg: Path, **environ: str) -> Settings:
    return load_settings(cfg, environ)


def fails(cfg: Path, file: str, key: str, **environ: str) -> ConfigError:
    """Loading fails, and the message names the file and the key."""
    with pytest.raises(ConfigError) as info:
        load(cfg, **environ)
    err = info.value
    assert str(cfg / file) in str(err)
    assert key in str(err)
    assert (err.source, err.key) == (str(cfg / file), key)
    return err


# -- a good configuration ------------------------------------------------------------------


def test_good_config_loads(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    root = cfg.parent
    s = load(cfg)

    assert s.root == root
    assert s.database == root / "var" / "ak_bridge.db"
    assert (s.host, s.port) == ("127.0.0.1", 8443)
    assert s.identity_key == root / "var" / "pki" / "bridge-key.pem"  # need not exist yet
    assert s.identity_cert == root / "var" / "pki" / "bridge-cert.pem"
    assert s.identity_passphrase is None
    assert (s.claim_seconds, s.worker_batch_size, s.worker_interval_seconds) == (60, 50, 2.0)
    assert s.max_body_bytes == 2 * 1024 * 1024

    assert list(s.partners) == ["KR-KCS", "VN-ECOSYS", "TH-OLD", "ASW"]
    kcs = s.partner("KR-KCS")
    assert kcs.channel is Channel.SOAP and kcs.format == "unipass"
    assert kcs.name == "Korea Customs Service UNI-PASS"
    assert kcs.wsdl == root / "wsdl" / "kcs" / "unipass-eco-1.0.wsdl"
    assert kcs.certificates == (root / "var" / "pki" / "KR-KCS.pem",)
    vn = s.partner("VN-ECOSYS")
    assert vn.channel is Channel.REST and vn.wsdl is None and vn.name == "VN-ECOSYS"
    assert vn.certificates == tuple(root / "var/pki" / n for n in CERTS[1:3])
    assert vn.timeout_seconds == 5.0 and vn.max_in_flight == 4
    assert vn.rules == {"hs_min_digits": 8}
    assert s.partner("TH-OLD").format == "akstd" and not s.partner("TH-OLD").enabled
    asw = s.partner("ASW")
    assert asw.channel is Channel.ASW and asw.certificates == () and asw.format == "raw"
    assert s.asw_partner == "ASW"
    assert s.format_mappings == {
        "vn_ecosys": {"name": "vn_ecosys", "fields": {"reference_no": "SoCO"}}
    }

    assert s.partner_for_country("VN") is vn
    assert s.partner_for_country("TH") is None  # disabled
    assert s.partner_for_country("ASEAN") is None  # the ASW is never a Form AK partner
    assert s.partner("XX-NOBODY") is None


def test_wsdl_falls_back_to_the_contracts_shipped_with_ak_bridge(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    (cfg.parent / "wsdl" / "kcs" / "unipass-eco-1.0.wsdl").unlink()
    wsdl = load(cfg).partner("KR-KCS").wsdl
    assert wsdl == WSDL_DIR / "kcs" / "unipass-eco-1.0.wsdl" and wsdl.exists()
    assert not wsdl.is_relative_to(cfg.parent)


def test_retry_overrides_merge_over_the_defaults(tmp_path: Path) -> None:
    s = load(write_config(tmp_path))
    defaults = RetryPolicy()
    assert s.default_retry == RetryPolicy(max_attempts=5, base_delay=10.0)
    assert s.partner("KR-KCS").retry == s.default_retry
    vn = s.partner("VN-ECOSYS").retry
    assert (vn.max_attempts, vn.jitter) == (10, 0)  # the partner's own
    assert vn.base_delay == 10.0  # from ak_bridge.toml [retry]
    assert (vn.factor, vn.max_delay, vn.max_age) == (
        defaults.factor,
        defaults.max_delay,
        defaults.max_age,
    )


def test_without_retry_table_the_defaults_apply(tmp_path: Path) -> None:
    main = edit(MAIN, "[retry]\nmax_attempts = 5\nbase_delay = 10\n", "")
    s = load(write_config(tmp_path, main=main))
    assert s.default_retry == RetryPolicy() == s.partner("KR-KCS").retry


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "bridge.db"
    cert = tmp_path / "abs-cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    main = edit(MAIN, 'database = "var/ak_bridge.db"', f'database = "{db}"')
    partners = edit(PARTNERS, '["var/pki/KR-KCS.pem"]', f'["{cert}"]')
    s = load(write_config(tmp_path, main=main, partners=partners))
    assert s.database == db
    assert s.partner("KR-KCS").certificates == (cert,)


def test_relative_config_dir_resolves_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_config(tmp_path)
    monkeypatch.chdir(cfg.parent)
    s = load_settings("config", {})
    assert s.root == cfg.parent and s.database == cfg.parent / "var" / "ak_bridge.db"
    s = load_settings(None, {"AK_BRIDGE_CONFIG": str(cfg)})
    assert s.root == cfg.parent


def test_passphrase_is_read_from_the_named_variable(tmp_path: Path) -> None:
    main = edit(MAIN, "[identity]\n", '[identity]\nkey_passphrase_env = "AKB_TEST_PASS"\n')
    s = load(write_config(tmp_path, main=main), AKB_TEST_PASS="s3cret")
    assert s.identity_passphrase == b"s3cret"


# -- environment overrides -----------------------------------------------------------------


def test_environment_overrides_database_port_and_host(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    s = load(cfg, AK_BRIDGE_DATABASE="var/other.db", AK_BRIDGE_PORT="9000")
    assert s.database == cfg.parent / "var" / "other.db"  # relative: against the root
    assert s.port == 9000
    absolute = tmp_path / "abs.db"
    s = load(cfg, AK_BRIDGE_DATABASE=str(absolute), AK_BRIDGE_HOST="0.0.0.0")
    assert s.database == absolute and s.host == "0.0.0.0" and s.port == 8443


def test_database_from_environment_makes_service_database_optional(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, main=edit(MAIN, 'database = "var/ak_bridge.db"\n', ""))
    assert load(cfg, AK_BRIDGE_DATABASE="x.db").database == cfg.parent / "x.db"


def test_only_the_given_environ_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AK_BRIDGE_PORT", "1234")
    monkeypatch.setenv("AK_BRIDGE_DATABASE", "/tmp/not-this.db")
    s = load(write_config(tmp_path))
    assert s.port == 8443 and s.database.name == "ak_bridge.db"


def test_bad_port_in_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AK_BRIDGE_PORT"):
        load(write_config(tmp_path), AK_BRIDGE_PORT="eighty")


# -- every mistake names its file and key --------------------------------------------------

M, P = "ak_bridge.toml", "partners.toml"

MISTAKES = {
    "missing service.database": (M, 'database = "var/ak_bridge.db"\n', "", "service.database"),
    "missing identity.key_file": (
        M,
        'key_file = "var/pki/bridge-key.pem"\n',
        "",
        "identity.key_file",
    ),
    "unknown retry key": (M, "max_attempts = 5", "max_tries = 5", "retry.max_tries"),
    "non-number retry value": (M, "base_delay = 10", 'base_delay = "10s"', "retry.base_delay"),
    "boolean retry value": (M, "base_delay = 10", "base_delay = true", "retry.base_delay"),
    "invalid retry value": (M, "base_delay = 10", "base_delay = -1", "retry"),
    "port as text": (M, "port = 8443", 'port = "8443"', "service.port"),
    "fractional batch size": (M, "claim_seconds = 60", "batch_size = 2.5", "worker.batch_size"),
    "bad channel": (P, 'channel = "rest"', 'channel = "ftp"', "partners.VN-ECOSYS.channel"),
    "soap partner without wsdl": (
        P,
        'wsdl = "kcs/unipass-eco-1.0.wsdl"\n',
        "",
        "partners.KR-KCS.wsdl",
    ),
    "missing certificate file": (
        P,
        '"var/pki/KR-KCS.pem"',
        '"var/pki/KR-KCS-typo.pem"',
        "partners.KR-KCS.certificates",
    ),
    "no certificate at all": (
        P,
        'certificates = ["var/pki/KR-KCS.pem"]',
        "certificates = []",
        "partners.KR-KCS.certificates",
    ),
    "certificates as a string": (
        P,
        'certificates = ["var/pki/KR-KCS.pem"]',
        'certificates = "var/pki/KR-KCS.pem"',
        "partners.KR-KCS.certificates",
    ),
    "missing country": (P, 'country = "VN"\n', "", "partners.VN-ECOSYS.country"),
    "missing endpoint": (
        P,
        'endpoint = "https://vn.example/rest"\n',
        "",
        "partners.VN-ECOSYS.endpoint",
    ),
    "unknown partner retry key": (
        P,
        "jitter = 0",
        "jiter = 0",
        "partners.VN-ECOSYS.retry.jiter",
    ),
    "non-number partner retry value": (
        P,
        "max_attempts = 10",
        'max_attempts = "ten"',
        "partners.VN-ECOSYS.retry.max_attempts",
    ),
    "unknown format": (P, 'format = "vn_ecosys"', 'format = "th_tco"', "partners.VN-ECOSYS.format"),
    "enabled as text": (P, "enabled = false", 'enabled = "false"', "partners.TH-OLD.enabled"),
    "timeout as text": (
        P,
        "timeout_seconds = 5",
        'timeout_seconds = "5s"',
        "partners.VN-ECOSYS.timeout_seconds",
    ),
    "no partners": (P, PARTNERS, "", "partners"),
    "zero header timeout": (
        M,
        "port = 8443",
        "port = 8443\nheader_timeout_seconds = 0",
        "service.header_timeout_seconds",
    ),
    "body timeout as text": (
        M,
        "port = 8443",
        'port = 8443\nbody_timeout_seconds = "1m"',
        "service.body_timeout_seconds",
    ),
    "connections below threads": (
        M,
        "port = 8443",
        "port = 8443\nmax_connections = 4",
        "service.max_connections",
    ),
}


def test_slow_client_settings_are_read(tmp_path: Path) -> None:
    main = edit(
        MAIN,
        "port = 8443",
        "port = 8443\nheader_timeout_seconds = 2.5\nbody_timeout_seconds = 7\n"
        "max_connections = 64\nthreads = 8\nkeepalive_seconds = 3",
    )
    edge = load(write_config(tmp_path, main=main)).edge
    assert (edge.header_timeout_seconds, edge.body_timeout_seconds) == (2.5, 7.0)
    assert (edge.max_connections, edge.threads, edge.keepalive_seconds) == (64, 8, 3)


@pytest.mark.parametrize("mistake", MISTAKES)
def test_mistake_names_file_and_key(tmp_path: Path, mistake: str) -> None:
    file, old, new, key = MISTAKES[mistake]
    main = edit(MAIN, old, new) if file == M else MAIN
    partners = edit(PARTNERS, old, new) if file == P else PARTNERS
    fails(write_config(tmp_path, main=main, partners=partners), file, key)


def test_missing_certificate_names_the_path(tmp_path: Path) -> None:
    partners = edit(PARTNERS, '"var/pki/KR-KCS.pem"', '"var/pki/KR-KCS-typo.pem"')
    err = fails(write_config(tmp_path, partners=partners), P, "partners.KR-KCS.certificates")
    assert "KR-KCS-typo.pem" in str(err)


def test_unknown_format_works_once_its_mapping_exists(tmp_path: Path) -> None:
    partners = edit(PARTNERS, 'format = "vn_ecosys"', 'format = "th_tco"')
    cfg = write_config(tmp_path, partners=partners, formats={"th_tco": 'name = "th_tco"\n'})
    assert load(cfg).partner("VN-ECOSYS").format == "th_tco"


@pytest.mark.parametrize("file", [M, P, "formats/vn_ecosys.toml"])
def test_invalid_toml_names_the_file(tmp_path: Path, file: str) -> None:
    cfg = write_config(tmp_path)
    (cfg / file).write_text('[service\ndatabase = "x"\n')
    err = fails(cfg, file, "-")
    assert "not valid TOML" in str(err)


@pytest.mark.parametrize("file", [M, P])
def test_missing_file_names_the_file(tmp_path: Path, file: str) -> None:
    cfg = write_config(tmp_path)
    (cfg / file).unlink()
    assert "not found" in str(fails(cfg, file, "-"))


def test_passphrase_variable_named_but_not_set_fails_only_where_the_key_is_used(
    tmp_path: Path,
) -> None:
    """Read-only commands (messages, report) load without it; signing needs it."""
    from ak_bridge.bootstrap import own_identity

    main = edit(MAIN, "[identity]\n", '[identity]\nkey_passphrase_env = "AKB_TEST_PASS"\n')
    settings = load(write_config(tmp_path, main=main))
    assert settings.identity_passphrase is None
    with pytest.raises(ConfigError) as err:
        own_identity(settings)
    assert err.value.key == "identity.key_passphrase_env" and "AKB_TEST_PASS" in str(err.value)


# -- typos and wrong types are refused, with the closest known key ----------------------------

TYPOS = {
    # (file, old, new, key named, closest known key suggested)
    "shadw": (P, "enabled = false", "shadw = true", "partners.TH-OLD.shadw", "shadow"),
    "max_in_fligh": (
        P,
        "timeout_seconds = 5",
        "max_in_fligh = 3",
        "partners.VN-ECOSYS.max_in_fligh",
        "max_in_flight",
    ),
    "timout_seconds": (
        P,
        "timeout_seconds = 5",
        "timout_seconds = 1",
        "partners.VN-ECOSYS.timout_seconds",
        "timeout_seconds",
    ),
    "partner retry": (P, "jitter = 0", "jiter = 0", "partners.VN-ECOSYS.retry.jiter", "jitter"),
    "rules": (
        P,
        "rules = { hs_min_digits = 8 }",
        "rules = { hs_min_digit = 8 }",
        "partners.VN-ECOSYS.rules.hs_min_digit",
        "hs_min_digits",
    ),
    "service": (M, "port = 8443", "prot = 8443", "service.prot", "port"),
    "worker": (
        M,
        "claim_seconds = 60",
        "claim_second = 60",
        "worker.claim_second",
        "claim_seconds",
    ),
    "retry": (M, "max_attempts = 5", "max_atempts = 5", "retry.max_atempts", "max_attempts"),
    "table": (M, "[worker]", "[workers]", "workers", "worker"),
    "auth": (M, "[retry]", "[auth]\nrequried = true\n\n[retry]", "auth.requried", "required"),
}


@pytest.mark.parametrize("typo", TYPOS)
def test_a_misspelled_key_is_refused_with_the_closest_known_key(tmp_path: Path, typo: str) -> None:
    file, old, new, key, closest = TYPOS[typo]
    main = edit(MAIN, old, new) if file == M else MAIN
    partners = edit(PARTNERS, old, new) if file == P else PARTNERS
    err = fails(write_config(tmp_path, main=main, partners=partners), file, key)
    assert f"did you mean {closest!r}" in str(err)


WRONG_TYPES = {
    "rvc as text": (
        "rules = { hs_min_digits = 8 }",
        'rules = { rvc_min_percent = "forty" }',
        "partners.VN-ECOSYS.rules.rvc_min_percent",
    ),
    "hs digits fractional": (
        "rules = { hs_min_digits = 8 }",
        "rules = { hs_min_digits = 8.5 }",
        "partners.VN-ECOSYS.rules.hs_min_digits",
    ),
    "shadow as text": ("enabled = false", 'shadow = "yes"', "partners.TH-OLD.shadow"),
    "max_in_flight as text": (
        "timeout_seconds = 5",
        'max_in_flight = "3"',
        "partners.VN-ECOSYS.max_in_flight",
    ),
    "rules not a table": (
        "rules = { hs_min_digits = 8 }",
        "rules = 8",
        "partners.VN-ECOSYS.rules",
    ),
}


@pytest.mark.parametrize("case", WRONG_TYPES)
def test_a_wrongly_typed_value_is_refused_at_load(tmp_path: Path, case: str) -> None:
    old, new, key = WRONG_TYPES[case]
    fails(write_config(tmp_path, partners=edit(PARTNERS, old, new)), P, key)


def test_the_partner_rules_reader_refuses_a_mistyped_rule_too(tmp_path: Path) -> None:
    from ak_bridge.config import load_partner_rules

    partners = edit(PARTNERS, "hs_min_digits = 8", 'rvc_min_percent = "forty"')
    with pytest.raises(ConfigError, match="rvc_min_percent"):
        load_partner_rules(write_config(tmp_path, partners=partners))


def test_the_shipped_template_loads_and_warns_that_partners_have_no_credentials(
    tmp_path: Path,
) -> None:
    """As shipped every partner call would be 401: loading says so instead of staying quiet."""
    import shutil

    from ak_bridge.config import warnings_for

    repo = Path(__file__).resolve().parent.parent
    root = tmp_path / "shipped"
    shutil.copytree(repo / "config", root / "config")
    (root / "var" / "pki").mkdir(parents=True)
    for pid in ("KR-KCS", "ID-SKA", "VN-ECOSYS"):
        (root / "var" / "pki" / f"{pid}.test-cert.pem").write_text("-")
    settings = load_settings(root / "config", {})
    assert settings.auth.required
    warned = " ".join(warnings_for(settings))
    assert "KR-KCS, ID-SKA, VN-ECOSYS" in warned and "401" in warned
    assert "admin_token_sha256" in warned
    with_tokens = edit(
        PARTNERS, "[partners.TH-OLD]", '[partners.TH-OLD]\ntoken_sha256 = "' + "a" * 64 + '"'
    )
    assert "TH-OLD" not in " ".join(
        warnings_for(load(write_config(tmp_path, partners=with_tokens)))
    )


# -- rule settings (issue 11) --------------------------------------------------------------


def test_the_removed_rvc_threshold_setting_is_a_clear_error(tmp_path: Path) -> None:
    """Box 8's threshold comes from the Agreement or the PSR, never from the importing Party."""
    cfg = write_config(tmp_path)
    partners = cfg / "partners.toml"
    partners.write_text(
        edit(partners.read_text(), "hs_min_digits = 8", "hs_min_digits = 8, rvc_min_percent = 45")
    )
    err = fails(cfg, "partners.toml", "partners.VN-ECOSYS.rules.rvc_min_percent")
    assert "Agreement" in str(err)
    with pytest.raises(ConfigError, match="rvc_min_percent"):
        load_partner_rules(cfg)


def test_hs_min_digits_below_six_is_refused(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    partners = cfg / "partners.toml"
    partners.write_text(edit(partners.read_text(), "hs_min_digits = 8", "hs_min_digits = 4"))
    fails(cfg, "partners.toml", "partners.VN-ECOSYS.rules.hs_min_digits")


def test_calendars_load_from_config_and_a_mistake_names_the_party(tmp_path: Path) -> None:
    assert load_calendars(tmp_path) == Calendars()  # no file: default rest days
    shipped = load_calendars(Path(__file__).parent.parent / "config")
    assert shipped.of("BN").rest_days == {FRI, SUN}
    assert shipped.of("KR").certain(date(2026, 1, 1), date(2026, 12, 31))
    (tmp_path / "calendars.toml").write_text('[calendars.BN]\nrest_days = ["friday"]\n')
    with pytest.raises(ConfigError, match="calendars.BN"):
        load_calendars(tmp_path)


def test_the_service_checks_retroactive_marking_on_the_configured_calendars(
    tmp_path: Path,
) -> None:
    """config/calendars.toml reaches the rules the service applies, not only `validate`."""
    import shutil
    from datetime import UTC, datetime

    from ak_bridge.core.model import MessageFunction
    from ak_bridge.service.receipts import rule_context

    cfg = write_config(tmp_path)
    shutil.copy(Path(__file__).resolve().parent.parent / "config" / "calendars.toml", cfg)
    settings = load(cfg)
    ctx = rule_context(settings, datetime.now(UTC), MessageFunction.ORIGINAL, "VN")
    assert ctx.calendars is settings.calendars
    assert ctx.calendars.by_country  # the Parties' tables were read
