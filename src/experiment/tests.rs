//! Experiment files: expansion and one test per kind of bad input.

use super::*;

const GOOD: &str = r#"
name = "t"
seed = 5
replicates = 2
duration = "10s"
[server]
tcp_syncookies = 0
[clients.web]
hosts = 10
rate = 5
[attackers.flood]
kind = "spoofed-syn"
rate = 100
[strategies]
none = {}
cookies = { "server.tcp_syncookies" = 1 }
[sweep]
strategy = ["none", "cookies"]
"attackers.flood.rate" = [0, 1000, 5000]
"#;

fn parse(text: &str) -> Result<Experiment, ExperimentError> {
    Experiment::parse(text, "x.toml", "x")
}

fn error(text: &str) -> String {
    parse(text).expect_err("should be rejected").to_string()
}

#[test]
fn expands_the_cartesian_product_last_axis_fastest() {
    let e = parse(GOOD).unwrap();
    assert_eq!((e.name.as_str(), e.seed, e.replicates), ("t", 5, 2));
    let runs = e.runs();
    assert_eq!(runs.len(), 2 * 3 * 2);
    assert_eq!(
        runs[0].params,
        [("strategy".to_string(), "none".to_string()), ("attackers.flood.rate".into(), "0".into())]
    );
    assert_eq!(runs[2].params[1].1, "1000");
    assert_eq!(runs[6].params[0].1, "cookies");
    assert_eq!(runs[6].config.server.tcp_syncookies, crate::config::SynCookies::OnOverflow);
    assert_eq!(runs[0].config.server.tcp_syncookies, crate::config::SynCookies::Off);
    assert_eq!(runs[5].config.attackers["flood"].rate, 5000.0);
    // Common random numbers: replicate r has one seed at every point.
    assert_eq!(runs[0].seed, runs[2].seed);
    assert_ne!(runs[0].seed, runs[1].seed);
    assert_eq!(runs.iter().map(|r| r.index).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
}

#[test]
fn ranges_are_linear_or_logarithmic_and_integer_when_their_ends_are() {
    let text = GOOD.replace(
        r#""attackers.flood.rate" = [0, 1000, 5000]"#,
        "\"attackers.flood.rate\" = { from = 10, to = 10000, steps = 4, scale = \"log\" }\n\"network.loss\" = { from = 0.0, to = 0.1, steps = 3 }",
    );
    let e = parse(&text).unwrap();
    assert_eq!(e.axes[1].labels, ["10", "100", "1000", "10000"]);
    assert_eq!(e.axes[2].labels, ["0", "0.05", "0.1"]);
    assert_eq!(e.points().len(), 2 * 4 * 3);
}

#[test]
fn strategies_without_a_strategy_axis_are_all_run() {
    let text = GOOD.replace("strategy = [\"none\", \"cookies\"]\n", "");
    let e = parse(&text).unwrap();
    assert_eq!(e.axes[0].key, "strategy");
    assert_eq!(e.axes[0].labels, ["none", "cookies"]);
}

#[test]
fn unknown_key_names_file_line_key_and_suggests() {
    let m = error(&GOOD.replace("tcp_syncookies = 0", "tcp_syncokies = 0"));
    assert!(
        m.starts_with(
            "x.toml:7:1: server.tcp_syncokies: unknown key `tcp_syncokies`; did you mean `tcp_syncookies`?"
        ),
        "{m}"
    );
    assert!(m.contains("allowed: listen_backlog"), "{m}");
    let m = error(&format!("sed = 1\n{GOOD}"));
    assert!(m.starts_with("x.toml:1:1: sed: unknown key; did you mean `seed`?"), "{m}");
}

#[test]
fn wrong_type_is_located() {
    let m = error(&GOOD.replace("rate = 5", "rate = \"fast\""));
    assert!(m.starts_with("x.toml:10:"), "{m}");
    assert!(
        m.contains(
            "clients.web.rate: must be a number of connections per second >= 0 (got the string \"fast\")"
        ),
        "{m}"
    );
}

#[test]
fn negative_rate_is_rejected_with_its_key() {
    let m = error(&GOOD.replace("rate = 5", "rate = -5"));
    assert!(m.starts_with("x.toml:10:1: clients.web.rate: must be a rate >= 0"), "{m}");
}

#[test]
fn loss_outside_0_1_is_rejected() {
    let m = error(&GOOD.replace("[server]", "[network]\nloss = 1.5\n[server]"));
    assert!(m.starts_with("x.toml:7:1: network.loss: loss must be a probability in [0, 1] (got 1.5)"), "{m}");
    // From the sweep: blamed on the axis, with the value.
    let m =
        error(&GOOD.replace(r#""attackers.flood.rate" = [0, 1000, 5000]"#, r#""network.loss" = [0.1, 2.0]"#));
    assert!(m.contains("x.toml:19:1: network.loss: loss must be a probability in [0, 1] (got 2)"), "{m}");
    assert!(m.contains("from sweep.network.loss = 2"), "{m}");
}

#[test]
fn empty_sweep_axis_is_rejected() {
    let m = error(&GOOD.replace("[0, 1000, 5000]", "[]"));
    assert!(m.starts_with("x.toml:19:1: sweep.attackers.flood.rate: empty sweep axis"), "{m}");
}

#[test]
fn unknown_strategy_suggests_a_defined_one() {
    let m = error(&GOOD.replace(r#"strategy = ["none", "cookies"]"#, r#"strategy = ["none", "cookie"]"#));
    assert!(m.contains("sweep.strategy: unknown strategy `cookie`; did you mean `cookies`?"), "{m}");
}

#[test]
fn bad_duration_explains_the_format() {
    let m = error(&GOOD.replace("duration = \"10s\"", "duration = \"10 parsecs\""));
    assert!(m.starts_with("x.toml:5:") && m.contains("write a number and a unit"), "{m}");
}

#[test]
fn missing_file_names_the_path() {
    let m = Experiment::load(Path::new("/no/such/exp.toml")).unwrap_err().to_string();
    assert!(m.starts_with("/no/such/exp.toml: cannot read the experiment file:"), "{m}");
}

#[test]
fn a_sweep_key_outside_the_schema_is_rejected() {
    let m = error(&GOOD.replace(r#""attackers.flood.rate""#, r#""server.tcp_syncokies""#));
    assert!(m.contains("unknown key `tcp_syncokies`") && m.contains("sweep.server.tcp_syncokies"), "{m}");
}

#[test]
fn both_or_neither_of_rate_and_concurrency_is_rejected() {
    let m = error(&GOOD.replace("rate = 5", "rate = 5\nconcurrency = 3"));
    assert!(m.contains("clients.web.rate: give exactly one of `rate`"), "{m}");
}

#[test]
fn every_shipped_experiment_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let e = Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!e.runs().is_empty());
            seen += 1;
        }
    }
    assert!(seen >= 3);
    assert_eq!(Experiment::parse(DEFAULT_EXPERIMENT, DEFAULT_ORIGIN, "defenses").unwrap().name, "defenses");
}

/// Every key of the schema is documented in docs/experiment-file.md.
#[test]
fn every_key_is_documented() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/experiment-file.md"))
        .unwrap();
    let e = parse(GOOD).unwrap();
    let mut cfg = e.runs()[0].config.clone();
    cfg.network.client_to_server = Some(Default::default());
    cfg.clients.get_mut("web").unwrap().network = Some(PopulationNetwork {
        delay: Some(DelaySpec::default()),
        loss: Some(LossSpec::default()),
        client_to_server: Some(Default::default()),
        server_to_client: None,
        reorder: Some(false),
        shared_loss: false,
    });
    let value = toml::Value::try_from(&cfg).unwrap();
    fn keys(v: &toml::Value, out: &mut Vec<String>) {
        if let toml::Value::Table(t) = v {
            for (k, v) in t {
                out.push(k.clone());
                keys(v, out);
            }
        }
    }
    let mut all = vec!["name".to_string(), "description".into(), "seed".into(), "replicates".into()];
    keys(&value, &mut all);
    for k in all {
        if k == "web" || k == "flood" {
            continue; // population names are the user's
        }
        let documented = doc.contains(&format!("`{k}`"))
            || doc.contains(&format!("[{k}"))
            || doc.contains(&format!(" {k} = "));
        assert!(documented, "docs/experiment-file.md does not document `{k}`");
    }
}

/// Words that only a Rust programmer reads: never in a message.
const INTERNALS: [&str; 8] = [
    "untagged enum",
    "internally tagged",
    "expected u8",
    "expected u16",
    "expected u32",
    "expected u64",
    "expected struct",
    "expected f64",
];

fn plain(m: &str) {
    for w in INTERNALS {
        assert!(!m.contains(w), "`{w}` in: {m}");
    }
}

#[test]
fn delays_losses_profiles_and_rates_list_their_forms() {
    let cases = [
        ("[network]\ndelay = \"-10ms\"", "x.toml:13:9: network.delay: `-10ms` is not a delay"),
        (
            "[network]\ndelay = { dist = \"lognormal\", mean = \"10ms\" }",
            "unknown key `mean` (allowed here: median, sigma)",
        ),
        (
            "[network]\ndelay = { dist = \"gamma\", mean = \"1ms\" }",
            "unknown kind `gamma` (allowed: constant, uniform",
        ),
        ("[network]\ndelay = 10", "a delay is written as a duration like \"10ms\""),
        (
            "[network]\ntransmission_time = \"-5us\"",
            "x.toml:13:21: network.transmission_time: `-5us` is not a delay",
        ),
        ("[network]\nloss = \"x\"", "loss is written as a probability from 0 to 1"),
        (
            "[network]\nloss = { model = \"gilbert\" }",
            "unknown kind `gilbert` (allowed: bernoulli, gilbert-elliott)",
        ),
        ("[attackers.a]\nkind = \"spoofed-syn\"\nrate = 1\nprofile = \"burst\"", "unknown profile `burst`"),
        (
            "[server]\naccept_rate = \"fast\"",
            "server.accept_rate: a rate is written as a number per second like 5000, or \"unlimited\"",
        ),
    ];
    for (tail, want) in cases {
        let text = GOOD
            .replace("[strategies]", &format!("{tail}\n[strategies]"))
            .replace("[server]\ntcp_syncookies = 0\n", "");
        let m = error(&text);
        assert!(m.contains(want), "{tail}\n  got: {m}\n want: {want}");
        assert!(m.contains("written as") || m.contains("unknown"), "{m}");
        plain(&m);
    }
}

#[test]
fn the_server_process_keys_say_what_is_wrong() {
    let cases = [
        ("workers = 0", "server.workers: must be an integer from 1 to 100000 (got 0)"),
        (
            "workers = \"many\"",
            "server.workers: must be an integer from 1 to 100000 (got the string \"many\")",
        ),
        (
            "service_time = \"gamma\"",
            "server.service_time: unknown value `gamma` (allowed: constant, exponential, table)",
        ),
        (
            "service_time = \"table\"",
            "server.service_table: service_time = \"table\" needs a table of durations",
        ),
        (
            "service_time = \"table\"\nservice_table = [\"0s\"]",
            "server.service_table: needs at least one duration above 0",
        ),
        ("service_table = [\"5ms\"]", "server.service_table: is read only with service_time = \"table\""),
    ];
    for (keys, want) in cases {
        let text = GOOD
            .replace("[server]\ntcp_syncookies = 0\n", &format!("[server]\ntcp_syncookies = 0\n{keys}\n"));
        let m = error(&text);
        assert!(m.contains(want), "{keys}\n  got: {m}\n want: {want}");
        plain(&m);
    }
    let ok = GOOD.replace(
        "[server]\ntcp_syncookies = 0\n",
        "[server]\ntcp_syncookies = 0\naccept_rate = 50\nworkers = 8\nservice_time = \"table\"\nservice_table = [\"3ms\", \"40ms\"]\n",
    );
    let e = parse(&ok).unwrap();
    assert_eq!(e.points()[0].config.server.workers, 8);
}

#[test]
fn a_profile_may_be_written_by_its_name() {
    let text = GOOD.replace("rate = 100\n", "rate = 100\nprofile = \"constant\"\n");
    let e = parse(&text).unwrap();
    assert_eq!(e.points()[0].config.attackers["flood"].profile, crate::config::RateProfile::Constant);
}

#[test]
fn tcp_metrics_and_defer_accept_keys_read_and_check() {
    let e = parse(&GOOD.replace("rate = 5", "rate = 5\nremembered = 0.25").replace(
        "tcp_syncookies = 0",
        "tcp_syncookies = 0\ntcp_no_metrics_save = true\ntcp_defer_accept = 1",
    ))
    .unwrap();
    let c = &e.runs()[0].config;
    assert_eq!(c.clients["web"].remembered, 0.25);
    assert!(c.server.tcp_no_metrics_save);
    assert_eq!(c.server.tcp_defer_accept, 1);
    let d = &parse(GOOD).unwrap().runs()[0].config;
    assert_eq!(
        (d.clients["web"].remembered, d.server.tcp_no_metrics_save, d.server.tcp_defer_accept),
        (0.0, false, 0)
    );
    let m = error(&GOOD.replace("rate = 5", "rate = 5\nremembered = 1.5"));
    assert!(m.contains("clients.web.remembered: must be in [0, 1] (got 1.5)"), "{m}");
    let m = error(&GOOD.replace("tcp_syncookies = 0", "tcp_defer_accept = -1"));
    assert!(m.contains("server.tcp_defer_accept") && m.contains("-1"), "{m}");
}

#[test]
fn integers_out_of_range_say_what_is_allowed() {
    let m = error(&GOOD.replace("hosts = 10", "hosts = \"a\""));
    assert!(
        m.contains("clients.web.hosts: must be an integer from 1 to 80000000 (got the string \"a\")"),
        "{m}"
    );
    let m = error(&GOOD.replace("tcp_syncookies = 0", "tcp_max_syn_backlog = -1"));
    assert!(
        m.contains("server.tcp_max_syn_backlog: must be an integer from 4 to 4294967295 (got -1)"),
        "{m}"
    );
    let m = error(&GOOD.replace("tcp_syncookies = 0", "tcp_orphan_retries = 300"));
    assert!(m.contains("must be a whole number from 0 to 255 (got 300)"), "{m}");
    let m = error(&GOOD.replace("[clients.web]\nhosts = 10\nrate = 5", "[clients]\nweb = 5"));
    assert!(m.contains("clients.web: must be a table of a population's settings"), "{m}");
    for m in [
        error(&GOOD.replace("hosts = 10", "hosts = \"a\"")),
        error(&GOOD.replace("[clients.web]\nhosts = 10\nrate = 5", "[clients]\nweb = 5")),
    ] {
        plain(&m);
    }
}

#[test]
fn kernel_timer_keys_say_what_is_allowed() {
    let m = error(&GOOD.replace("duration = \"10s\"", "duration = \"10s\"\nhz = 200"));
    assert!(m.contains("hz: must be 0 (exact timers), 100, 250, 300 or 1000 (got 200)"), "{m}");
    let m = error(&GOOD.replace("duration = \"10s\"", "duration = \"10s\"\nhz = -1"));
    assert!(m.contains("hz: must be 0 (exact timers), 100, 250, 300 or 1000 (got -1)"), "{m}");
    let m = error(&GOOD.replace("rate = 5", "rate = 5\ntcp_syn_linear_timeouts = 128"));
    assert!(m.contains("clients.web.tcp_syn_linear_timeouts: must be at most 127 (got 128)"), "{m}");
    let m = error(&GOOD.replace("rate = 5", "rate = 5\ntcp_syn_linear_timeouts = 300"));
    assert!(
        m.contains("clients.web.tcp_syn_linear_timeouts: must be an integer from 0 to 127 (got 300)"),
        "{m}"
    );
    plain(&m);
    // Defaults, and `hz` as a sweep axis (the ablation next to the kernel).
    let e = parse(&GOOD.replace("\"attackers.flood.rate\" = [0, 1000, 5000]", "hz = [250, 0]")).unwrap();
    let hz: Vec<u32> = e.runs().iter().map(|r| r.config.hz).collect();
    assert_eq!(hz[..4], [250, 250, 0, 0]);
    assert_eq!(e.runs()[0].config.clients["web"].tcp_syn_linear_timeouts, 4);
}

#[test]
fn teardown_keys_say_what_is_allowed() {
    for (value, got) in [("\"0s\"", "0s"), ("\"61s\"", "61s"), ("\"1.5ms\"", "1500us")] {
        let m = error(&GOOD.replace("rate = 5", &format!("rate = 5\ntcp_tw_reuse_delay = {value}")));
        assert!(
            m.contains(&format!(
                "clients.web.tcp_tw_reuse_delay: must be a whole number of milliseconds from 1ms to 60s (got {got})"
            )),
            "{m}"
        );
        plain(&m);
    }
    let m = error(&GOOD.replace("rate = 5", "rate = 5\ntcp_rfc1337 = 2"));
    assert!(m.contains("tcp_rfc1337"), "{m}");
    plain(&m);
    let e = parse(&GOOD.replace("rate = 5", "rate = 5\ntcp_tw_reuse_delay = \"100ms\"\ntcp_rfc1337 = true"))
        .unwrap();
    let c = &e.runs()[0].config;
    assert_eq!(c.clients["web"].tcp_tw_reuse_delay, crate::engine::SimDuration::from_millis(100));
    assert!(c.clients["web"].tcp_rfc1337 && !c.server.tcp_rfc1337);
    let m = error(&GOOD.replace("rate = 5", "rate = 5\ntcp_early_retrans = 5"));
    assert!(m.contains("clients.web.tcp_early_retrans: must be 0 to 4 (got 5)"), "{m}");
    plain(&m);
    let e = parse(&GOOD.replace("rate = 5", "rate = 5\ntcp_early_retrans = 0")).unwrap();
    let c = &e.runs()[0].config;
    assert_eq!((c.clients["web"].tcp_early_retrans, c.server.tcp_early_retrans), (0, 3));
}

#[test]
fn sweep_and_strategy_mistakes_carry_their_line() {
    // A misspelt key inside [strategies]: the strategy's line.
    let m = error(&GOOD.replace("\"server.tcp_syncookies\" = 1", "\"server.tcp_syncokies\" = 1"));
    assert!(m.starts_with("x.toml:16:1: server.tcp_syncokies: unknown key"), "{m}");
    // A sweep value of the wrong type: the axis's line, the key, the value.
    let m = error(
        &GOOD.replace("\"attackers.flood.rate\" = [0, 1000, 5000]", "\"server.tcp_syncookies\" = [\"a\"]"),
    );
    assert!(
        m.starts_with("x.toml:19:1: server.tcp_syncookies: must be 0, 1 or 2 (got the string \"a\")"),
        "{m}"
    );
    plain(&m);
    // A sweep over a population that does not exist.
    let m = error(&GOOD.replace("\"attackers.flood.rate\"", "\"clients.wbe.rate\""));
    assert!(
        m.contains("sweep.clients.wbe.rate: there is no population `wbe`")
            && m.contains("did you mean `web`"),
        "{m}"
    );
    assert!(!m.contains("missing field"), "{m}");
}

#[test]
fn missing_keys_name_their_table_and_line() {
    let m = error(&GOOD.replace("hosts = 10\n", ""));
    assert!(m.starts_with("x.toml:8:1: clients.web: missing key `hosts`"), "{m}");
    let m = error(&GOOD.replace("kind = \"spoofed-syn\"\n", ""));
    assert!(m.starts_with("x.toml:11:1: attackers.flood: missing key `kind`"), "{m}");
    let m = error(&GOOD.replace("duration = \"10s\"\n", ""));
    assert!(m.contains("missing key `duration`"), "{m}");
}

#[test]
fn sysctl_prefixes_and_duplicate_tables_are_named() {
    let m = error(&GOOD.replace("tcp_syncookies = 0", "net.ipv4.tcp_syncookies = 0"));
    assert!(m.contains("did you mean `tcp_syncookies`?") && m.contains("net.ipv4."), "{m}");
    let m = error(&format!("{GOOD}\n[server]\nsomaxconn = 1\n"));
    assert!(m.contains("the table `[server]` is defined twice"), "{m}");
    let m = error(&GOOD.replace("seed = 5", "seed = 5\nseed = 6"));
    assert!(m.contains(":4:1: seed: duplicate key"), "{m}");
}

#[test]
fn auto_warmup_resolves_per_point_and_says_when_the_run_is_too_short() {
    let text = "duration = \"300s\"\nwarmup = \"auto\"\nhz = 0\n[server]\ntcp_syncookies = 0\n\
                [clients.web]\nhosts = 10\nrate = 1\n[attackers.flood]\nkind = \"spoofed-syn\"\nrate = 100\n\
                [sweep]\n\"server.tcp_synack_retries\" = [1, 5]\n";
    let exp = Experiment::parse(text, "t.toml", "t").unwrap();
    let warmups: Vec<_> = exp.points().iter().map(|p| p.config.warmup).collect();
    // retries 1: TIME-WAIT's 60 s is the slowest clock (4 lifetimes of 3 s
    // are 12 s); retries 5: 4 lifetimes of 63 s.
    let s = crate::engine::SimDuration::from_secs;
    assert_eq!(warmups, [s(60), s(252)]);
    let short = text.replace("\"300s\"", "\"252s\"");
    let e = Experiment::parse(&short, "t.toml", "t").unwrap_err().to_string();
    assert!(e.contains("t.toml") && e.contains("warmup") && e.contains("252s"), "{e}");
    assert!(e.contains("server.tcp_synack_retries=5"), "names the point: {e}");
    let bad = text.replace("\"auto\"", "\"automatic\"");
    let e = Experiment::parse(&bad, "t.toml", "t").unwrap_err().to_string();
    assert!(e.contains("t.toml:2:") && e.contains("\"auto\""), "{e}");
}

#[test]
fn measure_makes_each_point_as_long_as_its_own_warmup_needs() {
    let text = "measure = \"100s\"\nwarmup = \"auto\"\ndrain = \"10s\"\n[server]\ntcp_syncookies = 0\n\
                [clients.web]\nhosts = 10\nrate = 1\n[attackers.flood]\nkind = \"spoofed-syn\"\nrate = 3000\n\
                [sweep]\n\"server.tcp_synack_retries\" = [1, 5]\n";
    let exp = Experiment::parse(text, "t.toml", "t").unwrap();
    let s = crate::engine::SimDuration::from_secs;
    let spans: Vec<_> = exp.points().iter().map(|p| (p.config.warmup, p.config.duration)).collect();
    // retries 1: the wheel's drift (1900 s); retries 5: 4 lifetimes of
    // up to 65.9 s on the wheel, in whole bins.
    assert_eq!(spans, [(s(1900), s(2010)), (s(264), s(374))]);
    let fixed = Experiment::parse(&text.replace("\"auto\"", "\"5s\""), "t.toml", "t").unwrap();
    assert!(fixed.points().iter().all(|p| p.config.duration == s(115)), "5 s + 100 s + 10 s");
    let both =
        Experiment::parse(&format!("duration = \"60s\"\n{text}"), "t.toml", "t").unwrap_err().to_string();
    assert!(both.contains("t.toml") && both.contains("`duration` or `measure`, not both"), "{both}");
    let zero = Experiment::parse(&text.replace("\"100s\"", "\"0s\""), "t.toml", "t").unwrap_err().to_string();
    assert!(zero.contains("measure") && zero.contains("longer than 0s"), "{zero}");
    let typo = Experiment::parse(&text.replace("\"100s\"", "100"), "t.toml", "t").unwrap_err().to_string();
    assert!(typo.contains("t.toml:1:") && typo.contains("measure"), "{typo}");
}

use crate::config::PopulationNetwork;
use crate::engine::SimDuration;
use crate::net::{DelaySpec, LossSpec};

const TWO_NETWORKS: &str = r#"
duration = "5s"
[clients.dc]
hosts = 10
rate = 5
[clients.mobile]
hosts = 10
rate = 5
[clients.mobile.network]
delay = "60ms"
"#;

#[test]
fn a_populations_network_table_is_checked_like_networks() {
    let m = error(&TWO_NETWORKS.replace("delay = \"60ms\"", "delay = \"60ms\"\nlos = 0.1"));
    assert!(m.contains("clients.mobile.network.los: unknown key `los`; did you mean `loss`?"), "{m}");
    assert!(m.contains("shared_loss"), "the allowed keys are listed: {m}");
    let m = error(&TWO_NETWORKS.replace("delay = \"60ms\"", "loss = 1.5"));
    assert!(m.contains("clients.mobile.network.loss: loss must be a probability in [0, 1] (got 1.5)"), "{m}");
    let m = error(&TWO_NETWORKS.replace("delay = \"60ms\"", "delay = \"fast\""));
    assert!(m.contains("clients.mobile.network.delay") && m.contains("is not a delay"), "{m}");
    let m = error(&TWO_NETWORKS.replace("delay = \"60ms\"", "server_to_client = { loss = 2.0 }"));
    assert!(m.contains("clients.mobile.network.server_to_client.loss: loss must be a probability"), "{m}");
    let m = error(&TWO_NETWORKS.replace("delay = \"60ms\"", "shared_loss = \"yes\""));
    assert!(m.contains("clients.mobile.network.shared_loss: must be true or false"), "{m}");
    let m = error(&TWO_NETWORKS.replace("delay = \"60ms\"", "shared_loss = true\nloss = 0.1"));
    assert!(m.contains("clients.mobile.network.shared_loss: a population on the shared bottleneck"), "{m}");
    let m =
        error(&TWO_NETWORKS.replace("[clients.mobile.network]\n", "").replace("delay", "network = 5\ndelay"));
    assert!(m.contains("clients.mobile.network: must be a table of the population's paths"), "{m}");
}

#[test]
fn a_spoofed_syn_attacker_has_no_path_back() {
    let flood = "[attackers.flood]\nkind = \"spoofed-syn\"\nrate = 10\n[attackers.flood.network]\n";
    assert!(parse(&format!("{TWO_NETWORKS}{flood}delay = \"50ms\"\n")).is_ok());
    let m = error(&format!("{TWO_NETWORKS}{flood}server_to_client = {{ delay = \"1ms\" }}\n"));
    assert!(
        m.contains("attackers.flood.network.server_to_client: a spoofed-syn attacker has no path back"),
        "{m}"
    );
}

#[test]
fn sweeps_reach_a_populations_network_even_without_its_table() {
    let text = format!(
        "{TWO_NETWORKS}[sweep]\n\"clients.mobile.network.delay\" = [\"20ms\", \"80ms\"]\n\
         \"clients.dc.network.loss\" = [0.0, 0.5]\n"
    );
    let e = parse(&text).unwrap();
    let runs = e.runs();
    assert_eq!(runs.len(), 4);
    let net = |i: usize, pop: &str| runs[i].config.clients[pop].network.clone().unwrap();
    assert_eq!(net(0, "mobile").delay, Some(DelaySpec::Fixed(SimDuration::from_millis(20))));
    assert_eq!(net(3, "mobile").delay, Some(DelaySpec::Fixed(SimDuration::from_millis(80))));
    // [clients.dc] has no network table: the sweep makes one.
    assert_eq!(net(1, "dc").loss, Some(LossSpec::Bernoulli(0.5)));
    assert_eq!(net(1, "dc").delay, None, "the rest stays [network]'s");
    let m = error(&text.replace("[0.0, 0.5]", "[0.0, 5.0]"));
    assert!(
        m.contains("clients.dc.network.loss: loss must be a probability") && m.contains("from sweep"),
        "{m}"
    );
}

#[test]
fn a_population_resolves_the_most_specific_setting() {
    let text = TWO_NETWORKS.replace(
        "delay = \"60ms\"",
        "delay = \"60ms\"\nclient_to_server = { delay = \"30ms\" }\n[network]\nloss = 0.01\nreorder = true\n\
         server_to_client = { delay = \"5ms\", loss = 0.2 }",
    );
    let e = parse(&text).unwrap();
    let cfg = &e.runs()[0].config;
    let p = cfg.network.for_population(cfg.clients["mobile"].network.as_ref().unwrap());
    let ms = |v| DelaySpec::Fixed(SimDuration::from_millis(v));
    assert_eq!(
        p.client_to_server,
        (ms(30), LossSpec::Bernoulli(0.01)),
        "its direction, then [network]'s loss"
    );
    assert_eq!(
        p.server_to_client,
        (ms(60), LossSpec::Bernoulli(0.2)),
        "its delay beats [network]'s direction"
    );
    assert!(p.reorder && !p.shared_loss);
}
