# Independent reference model of the three rate-limit algorithms, written from their
# definitions (not from the C++ or Lua code), in plain Python integers. make_limiter_cases.py
# runs it over the scenarios to produce limiter_cases.json, the table that both the C++
# limiter and the Redis Lua scripts must reproduce step by step.
import copy, json, sys


def cdiv(a, b):
    return 0 if a <= 0 else -(-a // b)


def fixed(state, L, Wsec, t, cost):
    W = Wsec * 1000
    start = t - t % W
    if state.get('start') != start:
        state['start'] = start; state['count'] = 0
    need = max(cost, 1)
    allowed = need <= L and state['count'] + need <= L
    if allowed: state['count'] += cost
    remaining = max(0, L - state['count'])
    used = state['count']
    reset = start + W
    retry = 0
    if not allowed:
        retry = W if need > L else start + W - t
    return allowed, remaining, used, reset, retry

def sliding_core(state, L, Wsec, t, cost):
    W = Wsec * 1000
    start = t - t % W
    if state.get('start', 0) != start:
        prev = state.get('current', 0) if state.get('start', 0) == start - W else 0
        state['previous'] = prev; state['current'] = 0; state['start'] = start
    state.setdefault('current', 0); state.setdefault('previous', 0)
    e = t - start
    used = state['current'] * W + state['previous'] * (W - e)
    need = max(cost, 1)
    allowed = need <= L and used + need * W <= L * W
    if allowed:
        state['current'] += cost
        used += cost * W
    remaining = max(0, (L * W - used) // W)
    used_requests = cdiv(used, W)
    if state['current'] > 0: reset = start + 2 * W
    elif state['previous'] > 0: reset = start + W
    else: reset = t
    return allowed, remaining, used_requests, reset

def sliding(state, L, Wsec, t, cost):
    allowed, remaining, used, reset = sliding_core(state, L, Wsec, t, cost)
    retry = 0
    W = Wsec * 1000
    if not allowed:
        if max(cost, 1) > L:
            retry = W
        else:
            # brute force: smallest d >= 1 at which the same request passes
            for d in range(1, 3 * W + 1):
                s = copy.deepcopy(state)
                if sliding_core(s, L, Wsec, t + d, cost)[0]:
                    retry = d; break
            else:
                raise RuntimeError('never passes')
    return allowed, remaining, used, reset, retry


def token(state, L, Wsec, t, cost):
    W = Wsec * 1000
    C = L * W
    if 'updated' not in state:
        tokens = C
    else:
        el = min(max(t - state['updated'], 0), W)
        tokens = min(C, state['tokens'] + el * L)
    need = max(cost, 1)
    allowed = need <= L and tokens >= need * W
    if allowed: tokens -= cost * W
    state['tokens'] = tokens
    state['updated'] = max(state.get('updated', t), t)
    # Refill resumes from the last update, which is later than t when the clock stepped back.
    ref = state['updated']
    remaining = tokens // W
    used = cdiv(C - tokens, W)
    reset = t + W if L == 0 else ref + cdiv(C - tokens, L)
    retry = 0
    if not allowed:
        retry = W if need > L else (ref - t) + cdiv(need * W - tokens, L)
    return allowed, remaining, used, reset, retry

ALGOS = {'fixed_window': fixed, 'sliding_window': sliding, 'token_bucket': token}

def run(scn):
    state = {}
    out = []
    for at, cost in scn['inputs']:
        a, r, u, rs, ra = ALGOS[scn['algorithm']](state, scn['limit'], scn['window_seconds'], at, cost)
        out.append({'at_ms': at, 'cost': cost, 'allowed': a, 'remaining': r, 'used': u,
                    'reset_ms': rs, 'retry_after_ms': ra})
    return out
