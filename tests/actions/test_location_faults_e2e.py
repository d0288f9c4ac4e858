"""The location actions through `ledger work` while the sandbox injects 503s, 429s and lost answers
(writes applied, connection dropped): every row ends final, no write is applied twice."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from ledger.sandbox import FaultConfig

N_SITES = 6


@pytest.mark.slow
def test_location_chain_under_faults_applies_each_write_once(tmp_path, sandbox_factory):
    sb = sandbox_factory(seed=7, faults=FaultConfig(p503=0.02, plost=0.1, p429=0.02, retry_after=1))
    st = sb.state
    rg = st.add_route_group("RG_TEST")
    lines = ["name,premise_route_id,phone_numbers,calling_line_id,enable_unknown_extension_route_policy,"
             "announcement_language,preferred_language"]
    for i in range(N_SITES):
        st.add_location(f"SITE{i:03d}")
        numbers = [f"+3493{i:03d}{j:04d}" for j in range(3)]
        lines.append(f'SITE{i:03d},{rg},"{",".join(numbers)}",{numbers[0]},TRUE,es_es,es_ES')
    csv_path = tmp_path / "Ubicaciones.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db, runner = tmp_path / "ledger.db", CliRunner()
    chain = (("location.pstn", ()), ("location.numbers", ("--after", "1")), ("location.main_number", ("--after", "2")),
             ("location.internal_dialing", ("--after", "1")))
    for action, after in chain:
        res = runner.invoke(cli, ["--db", str(db), "import", str(csv_path), "--action", action, *after])
        assert res.exit_code == 0, res.output

    env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
    res = runner.invoke(cli, ["--db", str(db), "work", "--retry-profile", "fast", "--concurrency", "4"], env=env)

    assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as conn:
        statuses = Counter(s for (s,) in conn.execute("SELECT status FROM ledger"))
    assert set(statuses) <= {"succeeded", "skipped"} and sum(statuses.values()) == 4 * N_SITES
    reqs = sb.requests()
    assert Counter(r.fault for r in reqs if r.fault)["lost"] > 0  # the run really met lost answers
    # a lost write is re-checked before any retry: Webex never sees the same write refused as a duplicate
    enables = [r for r in reqs if r.method == "POST" and r.path == "/v1/telephony/config/locations"]
    assert [r.status for r in enables if r.status == 409] == []
    applied = Counter(r.body["id"] for r in enables if r.status == 200 or r.fault == "lost")
    assert len(applied) == N_SITES and max(applied.values()) == 1
    number_posts = [r for r in reqs if r.method == "POST" and r.path.endswith("/numbers")]
    assert all(r.status != 400 for r in number_posts)
    for loc in st.locations.values():
        assert loc["_calling"] and loc["_pstn"]["pstnConnectionType"] == "LOCAL_GATEWAY"
        assert len(st.numbers_in(loc["id"])) == 3
        assert loc["_callingLineId"]["phoneNumber"].endswith("0000")
        assert loc["_internalDialing"]["enableUnknownExtensionRoutePolicy"] is True
