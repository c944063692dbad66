"""Writes tests/cases/limiter_cases.json: the scenarios below, with every step's expected
answer computed by limiter_model.py. Run it after changing either:
    python3 tests/cases/make_limiter_cases.py > tests/cases/limiter_cases.json
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from limiter_model import run

A = 1_699_999_980_000   # aligned to 60 s (and 10 s) windows
T0 = 1_700_000_000_000  # 20 s into a 60 s window
S = []
def sc(name, algo, L, W, inputs):
    S.append({'name': name, 'algorithm': algo, 'limit': L, 'window_seconds': W, 'inputs': inputs})

for algo, short in [('fixed_window', 'fixed window'), ('sliding_window', 'sliding window'), ('token_bucket', 'token bucket')]:
    # free tier: 20 per 60 s
    steps = [(A + 1000 + i * 10, 1) for i in range(20)] + [(A + 1200, 1), (A + 1300, 1)]
    sc(f'{short}: free tier admits exactly 20 in a 60 s burst then denies', algo, 20, 60, steps)
    steps = [(A + 5000, 1) for i in range(150)] + [(A + 5000, 1), (A + 5001, 1)]
    sc(f'{short}: pro tier admits exactly 150 in a 60 s burst then denies', algo, 150, 60, steps)
    sc(f'{short}: cost 0 peeks without consuming', algo, 2, 10,
       [(A + 1000, 0), (A + 1000, 0), (A + 1001, 1), (A + 1002, 0), (A + 1003, 1), (A + 1004, 0), (A + 1005, 0), (A + 1006, 1)])
    sc(f'{short}: a cost above 1 takes that many and must fit whole', algo, 10, 60,
       [(A + 1000, 4), (A + 1001, 4), (A + 1002, 3), (A + 1003, 2), (A + 1004, 1)])
    sc(f'{short}: a cost above the limit is never admitted', algo, 5, 60,
       [(A + 1000, 6), (A + 61000, 100), (A + 121000, 5), (A + 121001, 6)])
    sc(f'{short}: limit 0 denies everything', algo, 0, 60,
       [(A + 1000, 1), (A + 1001, 0), (A + 1002, 3), (A + 70000, 1)])
    sc(f'{short}: rejected requests consume nothing', algo, 3, 10,
       [(A + 100, 1), (A + 100, 1), (A + 100, 1)] + [(A + 200 + i, 1) for i in range(5)] + [(A + 205, 2)] +
       [(A + 30000, 1), (A + 30000, 1), (A + 30000, 1), (A + 30000, 1)])
    sc(f'{short}: timestamps not aligned to window starts', algo, 4, 7,
       [(T0 + 1234, 1), (T0 + 3000, 2), (T0 + 5000, 1), (T0 + 5500, 1), (T0 + 6000, 1), (T0 + 9000, 1), (T0 + 12345, 2), (T0 + 20000, 1)])
    sc(f'{short}: a clock stepping backwards within one window', algo, 3, 10,
       [(A + 5000, 1), (A + 4000, 1), (A + 3000, 1), (A + 2000, 1), (A + 2000, 0), (A + 6000, 1)])
    sc(f'{short}: a clock stepping backwards across a window boundary', algo, 2, 10,
       [(A + 10500, 1), (A + 10500, 1), (A + 10600, 1), (A + 9500, 1), (A + 9600, 1), (A + 10700, 1), (A + 10800, 1), (A + 12000, 1)])

# fixed window specifics
sc('fixed window: the count resets exactly at the window boundary', 'fixed_window', 5, 10,
   [(A + 9990 + i, 1) for i in range(5)] + [(A + 9999, 1), (A + 10000, 1), (A + 10000, 1), (A + 10000, 1), (A + 10000, 1), (A + 10000, 1), (A + 10001, 1), (A + 19999, 0), (A + 20000, 0)])
sc('fixed window: a long idle gap starts a fresh window', 'fixed_window', 2, 60,
   [(A + 100, 2), (A + 200, 1), (A + 3_600_000 + 5, 2), (A + 3_600_000 + 6, 1)])

# sliding window specifics
sc('sliding window: the previous window is carried with decaying weight', 'sliding_window', 10, 10,
   [(A + 9000, 1) for _ in range(10)] + [(A + 10000, 1), (A + 10999, 1), (A + 11000, 1), (A + 11000, 1), (A + 15000, 1), (A + 15000, 0), (A + 15000, 2), (A + 15001, 1), (A + 19999, 1), (A + 20000, 0), (A + 25000, 1)])
sc('sliding window: a skipped window forgets the previous count', 'sliding_window', 3, 10,
   [(A + 1000, 1), (A + 1000, 1), (A + 1000, 1), (A + 1000, 1), (A + 25000, 1), (A + 25000, 0)])
sc('sliding window: a cost above 1 waits for the previous window to decay', 'sliding_window', 10, 10,
   [(A + 5000, 10), (A + 12000, 3), (A + 12999, 3), (A + 13000, 3), (A + 13000, 1), (A + 13000, 10), (A + 20000, 10), (A + 29999, 10), (A + 30000, 10)])
sc('sliding window: a boundary burst is capped by the weighted previous window', 'sliding_window', 4, 10,
   [(A + 9999, 1), (A + 9999, 1), (A + 9999, 1), (A + 9999, 1), (A + 12500, 1), (A + 12500, 1), (A + 14999, 1), (A + 15000, 1), (A + 15000, 1), (A + 19999, 1), (A + 20000, 1)])
sc('sliding window: a full previous window and an empty current one', 'sliding_window', 3, 60,
   [(A + 59_000, 3), (A + 60_000, 0), (A + 79_999, 1), (A + 80_000, 1), (A + 100_000, 1), (A + 120_000, 1), (A + 120_000, 1), (A + 120_000, 1)])

sc('sliding window: a one-second window with limit 1', 'sliding_window', 1, 1,
   [(A + 500, 1), (A + 999, 1), (A + 1999, 1), (A + 2000, 1), (A + 2000, 0), (A + 3999, 0)])
sc('fixed window: a one-second window with limit 1', 'fixed_window', 1, 1,
   [(A + 500, 1), (A + 999, 1), (A + 1000, 1), (A + 1999, 0), (A + 2000, 0)])
sc('token bucket: a one-second window with limit 1', 'token_bucket', 1, 1,
   [(A + 500, 1), (A + 999, 1), (A + 1499, 1), (A + 1500, 1), (A + 1500, 0), (A + 9000, 0)])

# token bucket specifics
sc('token bucket: tokens refill continuously at limit per window', 'token_bucket', 10, 10,
   [(A, 10), (A + 999, 1), (A + 1000, 1), (A + 1000, 0), (A + 3500, 1), (A + 3500, 2), (A + 4000, 1), (A + 4001, 0)])
sc('token bucket: idling longer than a window refills to capacity and no more', 'token_bucket', 5, 10,
   [(A, 5), (A + 25_000, 5), (A + 25_000, 1), (A + 25_001, 0), (A + 100_000, 0)])
sc('token bucket: fractional refill accumulates across requests', 'token_bucket', 3, 7,
   [(T0, 3), (T0 + 1000, 1), (T0 + 2333, 1), (T0 + 2334, 1), (T0 + 2335, 0), (T0 + 4667, 1), (T0 + 4668, 1)])

if __name__ == '__main__':
    out = []
    for s in S:
        steps = run(s)
        out.append({'name': s['name'], 'algorithm': s['algorithm'], 'limit': s['limit'],
                    'window_seconds': s['window_seconds'], 'steps': steps})
    if len(sys.argv) > 1 and sys.argv[1] == 'show':
        for s in out:
            print('==', s['name'], s['limit'], s['window_seconds'])
            for st in s['steps']:
                print('  t=A+%d cost=%d allowed=%s rem=%d used=%d reset=A+%d retry=%d' % (st['at_ms'] - A, st['cost'], st['allowed'], st['remaining'], st['used'], st['reset_ms'] - A, st['retry_after_ms']))
    else:
        # one scenario per block, one step per line
        lines = ['[']
        for i, s in enumerate(out):
            head = {k: s[k] for k in ('name', 'algorithm', 'limit', 'window_seconds')}
            h = json.dumps(head)[:-1]
            lines.append('  ' + h + ', "steps": [')
            for j, st in enumerate(s['steps']):
                lines.append('    ' + json.dumps(st) + (',' if j + 1 < len(s['steps']) else ''))
            lines.append('  ]}' + (',' if i + 1 < len(out) else ''))
        lines.append(']')
        print('\n'.join(lines))
