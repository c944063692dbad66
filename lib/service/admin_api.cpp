// The admin routes. Each handler validates its input, calls the store, and answers from the
// callback; errors map to statuses in one place (Call::fail).
#include "service/admin_api.h"

#include "security/api_key.h"
#include "security/ip_address.h"
#include "service/responses.h"
#include "service/wire.h"

namespace rl::service {

// One admin request in progress. It owns itself: every path ends in exactly one reply(),
// no_content() or fail(), which answers and deletes the Call — like a libuv request whose
// callback runs exactly once.
struct AdminApi::Call {
  http::Exchange& exchange;
  const Params& params;
  std::string_view request_id;
  std::string_view client;
  std::string scratch;

  const http::Request& request() const { return exchange.request(); }
  http::Method method() const { return request().method; }

  void reply(int status, const json& body) {
    write_json(exchange.response(), status, dump(body), request_id);
    finish();
  }
  void no_content() {
    http::ResponseWriter& w = exchange.response();
    w.status(204);
    w.header("X-Request-ID", request_id);
    w.empty_body();
    finish();
  }
  void fail(int status, std::string_view code, std::string_view message) {
    write_error(exchange.response(), status, code, message, request_id, scratch);
    finish();
  }
  void finish() {
    http::Exchange& ex = exchange;
    delete this;
    ex.done();
  }
  void fail(const core::Error& e) {
    switch (e.code) {
      case core::Errc::invalid_argument:
        return fail(422, "invalid_field", e.message);
      case core::Errc::not_found:
        return fail(404, "not_found", e.message);
      case core::Errc::conflict:
        return fail(409, "conflict", e.message);
      case core::Errc::unavailable:
      case core::Errc::timeout:
      case core::Errc::overloaded:
        return fail(503, "unavailable", e.message);
      default:
        return fail(500, "internal", e.message);
    }
  }
  // The body as a JSON object, or answers 400 and returns nullopt.
  std::optional<json> body(bool empty_ok) {
    auto parsed = parse_body(request().body, empty_ok);
    if (!parsed) {
      fail(400, "invalid_json", parsed.error().message);
      return std::nullopt;
    }
    return std::move(*parsed);
  }
};

AdminApi::AdminApi(store::Directory& directory, store::Store& store, HealthService& health,
                   const core::Clock& clock, obs::Logger& log)
    : directory_(directory), store_(store), health_(health), clock_(clock), log_(log) {}

void AdminApi::handle(Route route, http::Exchange& exchange, const Params& params, Origin origin) {
  auto* call = new Call{exchange, params, origin.request_id, origin.client, {}};
  switch (route) {
    case Route::admin_health:
      return health(*call);
    case Route::admin_users:
      return users(*call);
    case Route::admin_user:
      return user(*call);
    case Route::admin_user_keys:
      return user_keys(*call);
    case Route::admin_key:
      return revoke_key(*call);
    case Route::admin_tiers:
      return tiers(*call);
    case Route::admin_tier:
      return tier(*call);
    case Route::admin_usage:
      return usage(*call);
    case Route::admin_blocks:
      return blocks(*call);
    case Route::admin_block:
      return unblock(*call);
    default:
      return call->fail(404, "not_found", "No such admin route");
  }
}

void AdminApi::health(Call& call) {
  if (call.method() != http::Method::post) {
    return health_.get([&call](core::Result<store::HealthRecord> r) {
      r ? call.reply(200, to_json(*r)) : call.fail(r.error());
    });
  }
  const auto body = call.body(false);
  if (!body) return;
  auto record = health_from_json(*body, clock_.now());
  if (!record) return call.fail(record.error());
  health_.set(std::move(*record), [this, &call](core::Result<store::HealthRecord> r) {
    if (!r) return call.fail(r.error());
    std::int64_t ttl = 0;
    if (r->expires_at) {
      ttl = std::chrono::duration_cast<core::Seconds>(*r->expires_at - clock_.now()).count();
    }
    log_.info("admin_change", {{"action", "health_set"},
                               {"request_id", call.request_id},
                               {"client", call.client},
                               {"health", policy::to_string(r->state)},
                               {"ttl_seconds", ttl},
                               {"updated_by", r->updated_by}});
    call.reply(200, to_json(*r));
  });
}

void AdminApi::users(Call& call) {
  if (call.method() != http::Method::post) {
    return directory_.list_users([&call](core::Result<std::vector<store::UserRecord>> r) {
      if (!r) return call.fail(r.error());
      json list = json::array();
      for (const auto& u : *r)
        list.push_back(to_json(u));
      call.reply(200, json{{"users", std::move(list)}});
    });
  }
  const auto body = call.body(false);
  if (!body) return;
  const auto id = body->find("user_id");
  const auto tier = body->find("tier");
  if (id == body->end() || !id->is_string() || !policy::is_valid_user_id(id->get<std::string>())) {
    return call.fail(422, "invalid_field", "user_id: expected 1-128 characters of [A-Za-z0-9_.@-]");
  }
  if (tier == body->end() || !tier->is_string()) {
    return call.fail(422, "invalid_field", "tier: expected the name of a tier");
  }
  store::UserRecord user{id->get<std::string>(), tier->get<std::string>(), {}, false};
  directory_.create_user(std::move(user), [this, &call](core::Result<store::UserRecord> r) {
    if (!r) return call.fail(r.error());
    log_.info("admin_change", {{"action", "user_created"},
                               {"request_id", call.request_id},
                               {"client", call.client},
                               {"user", r->id},
                               {"tier", r->tier}});
    call.reply(201, to_json(*r));
  });
}

void AdminApi::user(Call& call) {
  const std::string& id = call.params[0];
  switch (call.method()) {
    case http::Method::patch: {
      const auto body = call.body(false);
      if (!body) return;
      store::UserPatch patch;
      for (const auto& [field, value] : body->items()) {
        if (field == "tier" && value.is_string()) {
          patch.tier = value.get<std::string>();
        } else if (field == "disabled" && value.is_boolean()) {
          patch.disabled = value.get<bool>();
        } else {
          return call.fail(422, "invalid_field",
                           field + ": expected \"tier\" (a tier name) or \"disabled\" (a boolean)");
        }
      }
      return directory_.update_user(id, patch, [this, &call](core::Result<store::UserRecord> r) {
        if (!r) return call.fail(r.error());
        log_.info("admin_change", {{"action", "user_updated"},
                                   {"request_id", call.request_id},
                                   {"client", call.client},
                                   {"user", r->id},
                                   {"tier", r->tier},
                                   {"disabled", r->disabled}});
        call.reply(200, to_json(*r));
      });
    }
    case http::Method::del:
      return directory_.delete_user(id, [this, &call, &id](core::Status s) {
        if (!s) return call.fail(s.error());
        store_.forget_user(id, [](core::Status) {});
        log_.info("admin_change", {{"action", "user_deleted"},
                                   {"request_id", call.request_id},
                                   {"client", call.client},
                                   {"user", id}});
        call.no_content();
      });
    default:
      return directory_.get_user(id, [this, &call, &id](core::Result<store::UserRecord> user) {
        if (!user) return call.fail(user.error());
        directory_.list_keys(
            id, [&call, u = std::move(*user)](core::Result<std::vector<store::KeyRecord>> keys) {
              if (!keys) return call.fail(keys.error());
              json out = to_json(u);
              out["keys"] = json::array();
              for (const auto& k : *keys)
                out["keys"].push_back(to_json(k));
              call.reply(200, out);
            });
      });
  }
}

void AdminApi::user_keys(Call& call) {
  const std::string& id = call.params[0];
  if (call.method() != http::Method::post) {
    return directory_.list_keys(id, [&call](core::Result<std::vector<store::KeyRecord>> r) {
      if (!r) return call.fail(r.error());
      json list = json::array();
      for (const auto& k : *r)
        list.push_back(to_json(k));
      call.reply(200, json{{"keys", std::move(list)}});
    });
  }
  const auto body = call.body(true);
  if (!body) return;
  std::string label;
  if (const auto it = body->find("label"); it != body->end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>().size() > 128) {
      return call.fail(422, "invalid_field", "label: expected a string of at most 128 bytes");
    }
    label = it->get<std::string>();
  }
  auto key = std::make_shared<std::string>(security::generate_api_key());
  const auto digest = security::digest_api_key(*key);
  store::KeyRecord record{std::string(digest.view()), std::string(digest.key_id()), id, label, {}};
  directory_.add_key(std::move(record), [this, &call, key](core::Result<store::KeyRecord> r) {
    if (!r) return call.fail(r.error());
    log_.info("admin_change", {{"action", "key_created"},
                               {"request_id", call.request_id},
                               {"client", call.client},
                               {"user", r->user},
                               {"key_id", r->key_id}});
    json out = to_json(*r);
    out["api_key"] = *key;  // shown this once; only the digest is stored
    call.reply(201, out);
  });
}

void AdminApi::revoke_key(Call& call) {
  directory_.revoke_key(call.params[0], [this, &call](core::Result<store::KeyRecord> r) {
    if (!r) return call.fail(r.error());
    log_.info("admin_change", {{"action", "key_revoked"},
                               {"request_id", call.request_id},
                               {"client", call.client},
                               {"user", r->user},
                               {"key_id", r->key_id}});
    call.no_content();
  });
}

void AdminApi::tiers(Call& call) {
  directory_.list_tiers([&call](core::Result<std::vector<policy::Tier>> r) {
    if (!r) return call.fail(r.error());
    json out = json::object();
    for (const auto& t : *r)
      out[t.name] = to_json(t);
    call.reply(200, json{{"tiers", std::move(out)}});
  });
}

void AdminApi::tier(Call& call) {
  const std::string& name = call.params[0];
  if (call.method() != http::Method::put) {
    return directory_.list_tiers([&call, &name](core::Result<std::vector<policy::Tier>> r) {
      if (!r) return call.fail(r.error());
      for (const auto& t : *r) {
        if (t.name == name) return call.reply(200, to_json(t));
      }
      call.fail(404, "not_found", "no tier '" + name + "'");
    });
  }
  const auto body = call.body(false);
  if (!body) return;
  auto tier = tier_from_json(name, *body);
  if (!tier) return call.fail(tier.error());
  directory_.put_tier(*tier, [this, &call, t = *tier](core::Result<bool> created) {
    if (!created) return call.fail(created.error());
    log_.info("admin_change", {{"action", *created ? "tier_created" : "tier_updated"},
                               {"request_id", call.request_id},
                               {"client", call.client},
                               {"tier", t.name},
                               {"burst_limit", t.burst_limit},
                               {"degraded_limit", t.degraded_limit}});
    call.reply(*created ? 201 : 200, to_json(t));
  });
}

void AdminApi::usage(Call& call) {
  const std::string& id = call.params[0];
  directory_.get_user(id, [this, &call](core::Result<store::UserRecord> user) {
    if (!user) return call.fail(user.error());
    directory_.list_tiers(
        [this, &call, u = std::move(*user)](core::Result<std::vector<policy::Tier>> tiers) {
          if (!tiers) return call.fail(tiers.error());
          const policy::Tier* tier = nullptr;
          for (const auto& t : *tiers) {
            if (t.name == u.tier) tier = &t;
          }
          if (tier == nullptr) return call.fail(500, "internal", "the user's tier does not exist");
          const limiter::Quota quota = policy::quota_for(*tier, health_.current());
          const store::CounterKey key{u.id, tier->algorithm, tier->window, tier->on_failure};
          store_.consume(key, quota, 0,
                         [&call, u, tier_name = tier->name](core::Result<limiter::Decision> d) {
                           if (!d) return call.fail(d.error());
                           call.reply(200, json{{"user", u.id},
                                                {"tier", tier_name},
                                                {"limit", d->limit},
                                                {"used", d->used},
                                                {"remaining", d->remaining},
                                                {"reset", core::to_unix_seconds_ceil(d->reset)}});
                         });
        });
  });
}

void AdminApi::blocks(Call& call) {
  store_.list_blocks([&call](core::Result<std::vector<store::Block>> r) {
    if (!r) return call.fail(r.error());
    json list = json::array();
    for (const auto& b : *r)
      list.push_back(to_json(b));
    call.reply(200, json{{"blocks", std::move(list)}});
  });
}

void AdminApi::unblock(Call& call) {
  // Accept an address (mapped to its client key) or a client key such as "2001:db8::/64".
  std::string client = call.params[0];
  if (const auto ip = security::IpAddress::parse(client)) client = ip->client_key();
  store_.remove_block(client, [this, &call, client](core::Status s) {
    if (!s) return call.fail(s.error());
    log_.info("admin_change", {{"action", "block_removed"},
                               {"request_id", call.request_id},
                               {"client", call.client},
                               {"blocked_client", client}});
    call.no_content();
  });
}

}  // namespace rl::service
