"""What masking secrets costs a cell: :func:`nbprofile.redact.mask` on 200-line cells.

Run: python bench/redact_cost.py [--lines 200] [--rounds 7]

Four cells of the same length: plain numeric code (no literal a secret needs: the quick scan
alone), training code that names tokenizers and keys (the full pass, nothing to mask), the
same with an API key, a Hugging Face token and a Bearer header in it, and one line repeated
(the worst case of the full pass: every line a candidate). Prints the median microseconds a
call, and the ratio to one plain ``str.splitlines`` of the cell as a yardstick.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

from _common import print_table, us, write_result

from nbprofile.redact import mask

#: the masking itself: ``mask`` remembers its last few texts (a cell's start and its record ask
#: for the same one), and a benchmark that called it with one text would time the memo
uncached = mask.__wrapped__

PLAIN = ["x = np.linspace(0, 1, 1000)", "y = np.sin(x) ** 2 + np.cos(x)", "total = float(y.sum())",
         "for i in range(10):", "    total += i * 0.5", "print(f'{total:.3f}')",
         "df = pd.DataFrame({'a': x})", "df['b'] = df['a'].rolling(5).mean()", "plt.plot(df['a'], df['b'])",
         "result = df.describe()"]
TRAINING = ["tokenizer = AutoTokenizer.from_pretrained(model_name)",
            "tokenizer.pad_token = tokenizer.eos_token",
            "batch = tokenizer(texts, padding=True, return_tensors='pt')", "outputs = model(**batch)",
            "loss = outputs.loss", "loss.backward()", "optimizer.step()",
            "for key, value in metrics.items():", "    log[key] = value",
            "sorted(runs, key=lambda r: r['loss'])"]
SECRETS = ["client = OpenAI(api_key='sk-proj-" + "Zq8LmN4vXr2TbW9yHc7KdJ5sFg3Pa1Qe6Uo0Ri-Ey_Tu8Iw2Oq4M"
           "a6Nb9Vc3f3a9')",
           "login('hf_KqWeRtYuIoPaSdFgHjKlZxCvBnMq12345')",
           "headers = {'Authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dozjgNryP4J3jVmNHl0w'}"]


def cell(lines: list[str], n: int, extra: list[str] | None = None) -> str:
    body = [lines[i % len(lines)] for i in range(n - len(extra or []))]
    return "\n".join(body[: n // 2] + (extra or []) + body[n // 2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    cells = {
        "plain code (quick scan only)": cell(PLAIN, args.lines),
        "training code (full pass, nothing found)": cell(TRAINING, args.lines),
        "training code + 3 secrets": cell(TRAINING, args.lines, SECRETS),
        "every line `api_key = '…'` (worst case)": cell(["api_key = 'a1b2c3d4e5f6g7h8i9j0'"], args.lines),
    }
    rows, data = [], {}
    for name, text in cells.items():
        timer = timeit.Timer(lambda t=text: uncached(t))  # type: ignore[misc]
        number, _ = timer.autorange()
        per_call = [t / number for t in timer.repeat(args.rounds, number)]
        yard = timeit.Timer(lambda t=text: t.splitlines())  # type: ignore[misc]
        y_number, _ = yard.autorange()
        yardstick = statistics.median(t / y_number for t in yard.repeat(args.rounds, y_number))
        median = statistics.median(per_call)
        rows.append([name, str(len(text)), us(median), us(min(per_call)), f"{median / yardstick:.1f}"])
        data[name] = {"chars": len(text), "median_s": median, "min_s": min(per_call),
                      "ratio_to_splitlines": median / yardstick}
    print_table(["cell", "chars", "median µs", "min µs", "x splitlines"], rows,
                f"mask() on {args.lines}-line cells, {args.rounds} rounds")
    write_result("redact_cost", {"lines": args.lines, "rounds": args.rounds, "cells": data})


if __name__ == "__main__":
    main()
