"""The Prometheus endpoint and JSON logs of a real node: /metrics parses with prometheus-client's own parser and
its counters move when blocks are made and methods are called."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from web3 import Web3

from pysei.bench.nodes import free_port

try:
    from tests.conftest import start_devnet
except ImportError:  # tests/ itself is the import root
    from conftest import start_devnet  # type: ignore[no-redef]


def scrape(port: int) -> dict[str, float]:
    """Every sample as ``name{label="value",…}`` → value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_metrics_move_with_blocks_and_calls(tmp_path: Path) -> None:
    port = free_port()
    node = start_devnet(
        tmp_path, "--automine", "--metrics-port", str(port), "--log-format", "json", "--log-level", "info"
    )
    try:
        before = scrape(port)
        assert before["chain_head_block"] == 0
        assert before["txpool_pending"] == 0
        w3 = Web3(Web3.HTTPProvider(node.http_url))
        sender = node.accounts[0].address
        for _ in range(3):
            w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": sender, "to": sender, "value": 1}))
        w3.provider.make_request("no_such_method", [])  # type: ignore[arg-type]
        after = scrape(port)
        assert after["chain_head_block"] == w3.eth.block_number >= 3
        assert after["chain_transactions_total"] == 3
        assert after["chain_gas_used_total"] == 3 * 21_000
        assert after["chain_execution_seconds_count"] >= 3
        assert after["chain_write_seconds_count"] >= 3
        assert after['rpc_requests_total{method="eth_sendTransaction"}'] == 3
        assert after['rpc_duration_seconds_count{method="eth_sendTransaction"}'] == 3
        assert after['rpc_failure_total{code="-32601",method="unknown"}'] == 1
        assert after["pysei_commitment_lag_blocks"] >= 0
    finally:
        assert node.stop() == 0
    assert node.log_path is not None
    lines = [line for line in node.log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert any(r["logger"] == "pysei.metrics" and "metrics on" in r["message"] for r in records)
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
