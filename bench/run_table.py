#!/usr/bin/env python3
"""bench/run's table: the rows of the peers' results.tsv written since a given time, as Markdown,
each with rld's requests/s as a multiple of it, Redis CPU per 10,000 decisions, and the issue's
targets checked (rld with Redis >= 4x node:http and >= 0.8x nginx limit_req, p99 under 2 ms is
checked separately at half rate; rld with the memory store >= 1.0x nginx limit_req).

Usage: run_table.py RESULTS_TSV SINCE   (SINCE: an ISO time, UTC, as bench/run passes it)
When a peer ran more than once (REPEAT), its median row is used."""
import csv
import statistics
import sys
import time


def rows_since(path, since):
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["when"][:19] >= since and row["rps"] not in ("", "ERR"):
                yield row


def median_rows(rows):
    by_name = {}
    for row in rows:
        by_name.setdefault((row["peer"], row["variant"], row["conns"]), []).append(row)
    out = {}
    for key, group in by_name.items():
        group.sort(key=lambda r: float(r["rps"]))
        out[key] = dict(group[(len(group) - 1) // 2])  # latencies and CPU of the (lower) median run
        out[key]["rps_median"] = statistics.median(float(r["rps"]) for r in group)
    return out


def redis_ms_per_10k(row):
    """Redis CPU time per 10,000 decisions, in ms: its CPU share of a core over the rate."""
    if row["redis_cpu_pct"] in ("-", ""):
        return None
    return float(row["redis_cpu_pct"]) / 100 / float(row["rps_median"]) * 10_000 * 1000


def main():
    path, since = sys.argv[1], sys.argv[2]
    rows = median_rows(rows_since(path, since))
    if not rows:
        sys.exit(f"no rows in {path} since {since}")
    rld = {key[0]: row for key, row in rows.items() if key[0].startswith("rld-")}
    reference = rld.get("rld-redis")
    out = [f"## {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} bench/run "
           f"(rows since {since}; medians of each peer's runs)", "",
           "| peer | variant | conns | req/s | p50 ms | p99 ms | server CPU | Redis CPU | "
           "Redis CPU ms / 10k decisions | rld-redis is |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key in sorted(rows, key=lambda k: -rows[k]["rps_median"]):
        row = rows[key]
        redis = redis_ms_per_10k(row)
        ratio = ""
        if reference and key[0] != "rld-redis":
            ratio = f"{float(reference['rps_median']) / row['rps_median']:.2f}x"
        out.append(f"| {key[0]} | {key[1]} | {key[2]} | {row['rps_median']:,.0f} | "
                   f"{row['p50_ms']} | {row['p99_ms']} | {row['server_cpu_pct']}% | "
                   f"{row['redis_cpu_pct']}{'%' if redis is not None else ''} | "
                   f"{'' if redis is None else f'{redis:.0f}'} | {ratio} |")

    def best(match):  # the fastest single-key row of the peers `match` accepts
        found = [r for (p, v, _), r in rows.items() if match(p) and v == "single-key"]
        return max(found, key=lambda r: r["rps_median"]) if found else None

    checks = []
    node = best(lambda p: p == "node-http")
    nginx = best(lambda p: p.startswith("nginx-") and p.endswith("-limit_req"))  # 1 or 2 workers
    memory = rld.get("rld-memory")
    for name, ours, peer, target in (("rld (Redis) / node:http", reference, node, 4.0),
                                     ("rld (Redis) / nginx limit_req", reference, nginx, 0.8),
                                     ("rld (memory) / nginx limit_req", memory, nginx, 1.0)):
        if ours is None or peer is None:
            checks.append(f"- {name}: not measured in this run")
            continue
        ratio = ours["rps_median"] / peer["rps_median"]
        verdict = "met" if ratio >= target else "NOT met"
        checks.append(f"- {name}: {ratio:.2f}x ({ours['rps_median']:,.0f} / "
                      f"{peer['rps_median']:,.0f} req/s, {peer['peer']}); target {target}x: "
                      f"{verdict}")
    print("\n".join(out + ["", "Targets:"] + checks + [""]))


if __name__ == "__main__":
    main()
