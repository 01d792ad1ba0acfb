"""`python -m sandbox serve|describe`: run the sandbox servers or summarise the reference case."""

import argparse
import signal
import sys
import threading
from collections import Counter
from collections.abc import Sequence

from sandbox.amocrm import start_amocrm
from sandbox.bitrix24 import start_bitrix24
from sandbox.cbr_rates import start_cbr_rates
from sandbox.generator import Dataset, generate
from sandbox.google_ads import start_google_ads
from sandbox.hubspot import start_hubspot
from sandbox.hubspot_account import generate_account
from sandbox.meta_ads import start_meta_ads
from sandbox.yandex_direct import start_yandex_direct


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve amoCRM, Bitrix24, HubSpot, Yandex Direct, Google Ads, Meta Ads and the CBR's "
        "rates until stopped",
    )
    _data_options(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--amocrm-port", type=int, default=8701, help="0 picks a free port")
    serve.add_argument("--yandex-port", type=int, default=8702, help="0 picks a free port")
    serve.add_argument("--bitrix24-port", type=int, default=8703, help="0 picks a free port")
    serve.add_argument("--hubspot-port", type=int, default=8704, help="0 picks a free port")
    serve.add_argument("--google-ads-port", type=int, default=8705, help="0 picks a free port")
    serve.add_argument("--meta-ads-port", type=int, default=8706, help="0 picks a free port")
    serve.add_argument("--cbr-rates-port", type=int, default=8707, help="0 picks a free port")
    serve.add_argument(
        "--token", default="sandbox-token", help="the Bearer token (Bitrix24: webhook code)"
    )
    serve.add_argument("--developer-token", default="sandbox-developer-token", help="Google Ads")
    serve.add_argument("--polls-before-ready", type=int, default=2)
    serve.add_argument("--retry-in", type=int, default=1, help="retryIn seconds for reports")
    serve.set_defaults(run=_serve)
    describe = commands.add_parser("describe", help="summarise the reference case")
    _data_options(describe)
    describe.set_defaults(run=_describe)
    args = parser.parse_args(argv)
    return args.run(args)


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--leads", type=int, default=3000, help="number of leads to generate")


def _serve(args: argparse.Namespace) -> int:
    dataset = generate(seed=args.seed, n_leads=args.leads)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    amocrm = start_amocrm(dataset, host=args.host, port=args.amocrm_port, token=args.token)
    with (
        amocrm,
        start_yandex_direct(
            dataset,
            host=args.host,
            port=args.yandex_port,
            token=args.token,
            polls_before_ready=args.polls_before_ready,
            retry_in_seconds=args.retry_in,
        ) as yandex,
        start_bitrix24(
            dataset, host=args.host, port=args.bitrix24_port, token=args.token
        ) as bitrix24,
        start_hubspot(
            generate_account(dataset).account,
            host=args.host,
            port=args.hubspot_port,
            token=args.token,
        ) as hubspot,
        start_google_ads(
            dataset,
            host=args.host,
            port=args.google_ads_port,
            token=args.token,
            developer_token=args.developer_token,
        ) as google_ads,
        start_meta_ads(dataset, host=args.host, port=args.meta_ads_port, token=args.token) as meta,
        start_cbr_rates(dataset, host=args.host, port=args.cbr_rates_port) as cbr_rates,
    ):
        print(f"amocrm {amocrm.url}", flush=True)
        print(f"yandex_direct {yandex.url}", flush=True)
        print(f"bitrix24 {bitrix24.url}", flush=True)  # webhook: {url}/rest/1/<token>/
        print(f"hubspot {hubspot.url}", flush=True)
        print(f"google_ads {google_ads.url}", flush=True)
        print(f"meta_ads {meta.url}", flush=True)
        print(f"cbr_rates {cbr_rates.url}", flush=True)
        print("sandbox ready", flush=True)
        stop.wait()
    print("sandbox stopped", flush=True)
    return 0


def _describe(args: argparse.Namespace) -> int:
    for line in describe(generate(seed=args.seed, n_leads=args.leads)):
        print(line)
    return 0


def describe(dataset: Dataset) -> list[str]:
    """A short summary of the reference case, over the leads that are not deleted."""
    live = [truth for truth in dataset.truth.values() if not truth.is_deleted]
    leads = Counter(truth.segment for truth in live)
    won = Counter(truth.segment for truth in live if truth.outcome == "won")
    revenue = Counter()
    for truth in live:
        revenue[truth.segment] += truth.won_amount
    total_revenue = sum(revenue.values())
    private = [truth for truth in live if truth.segment == "private"]
    invalid = sum(truth.phone_kind == "invalid" for truth in private)
    duplicates = sum(truth.phone_kind == "duplicate" for truth in private)
    lines = [
        f"seed {dataset.seed}: {len(dataset.truth)} leads created 2026-01-01..2026-06-30, "
        f"{len(dataset.truth) - len(live)} of them deleted",
        f"{'segment':<10} {'leads':>6} {'won':>5} {'revenue, RUB':>14} {'share':>6}",
    ]
    for segment, count in leads.most_common():
        share = revenue[segment] / total_revenue if total_revenue else 0.0
        lines.append(
            f"{segment:<10} {count:>6} {won[segment]:>5} {revenue[segment]:>14,} {share:>6.1%}"
        )
    lines += [
        f"private leads: {invalid / len(private):.1%} invalid phones, "
        f"{duplicates / len(private):.1%} duplicate phones",
    ]
    for platform, (account, rows) in dataset.platform_stats().items():
        spend = sum(row["Cost"] for row in rows) / 1_000_000
        campaigns = len({row["CampaignId"] for row in rows})
        lines.append(
            f"{platform}: {campaigns} campaigns, {spend:,.2f} {account.currency} spent "
            f"(account {account.account_id}, {account.time_zone})"
        )
    rates = dataset.currency_rates
    lines.append(
        f"cbr_rates: {len({row['Date'] for row in rates})} publication days "
        f"{rates[0]['Date']}..{rates[-1]['Date']} of {len({row['CharCode'] for row in rates})} "
        "currencies"
    )
    return lines


if __name__ == "__main__":
    sys.exit(main())
