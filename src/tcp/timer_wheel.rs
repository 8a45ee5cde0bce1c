//! When a kernel timer really fires: Linux's timer wheel as one rounding
//! rule, applied where a TCB arms its timer.
//!
//! Every TCP timer synsim models (the request's SYN-ACK timer, the
//! retransmission timer of SYN, data and FIN, the delayed ACK's,
//! FIN-WAIT-2 and TIME-WAIT) is
//! a `timer_list` on the timer wheel (`kernel/time/timer.c`). Arming one
//! (`mod_timer(timer, jiffies + timeout)`) goes through
//! `calc_wheel_index()`: the further away the expiry, the coarser the
//! level it lands on (64 slots a level, each level 8x coarser than the one
//! below), and `calc_index()` rounds the expiry *up* to the next slot of
//! that level. The timer then fires at the tick of that slot's jiffy.
//!
//! In nanoseconds, with `hz` ticks a second (CONFIG_HZ):
//!
//! 1. now is in jiffy `floor(now * hz / 1e9)` (jiffy 0 at t = 0);
//! 2. a timeout becomes a whole number of jiffies, rounded up
//!    (`msecs_to_jiffies`, `usecs_to_jiffies`; TCP's own constants are
//!    whole jiffies already);
//! 3. `expires = jiffies + timeout` goes to its wheel slot
//!    ([`bucket_expiry`]), against the wheel's clock `clk`: `jiffies`,
//!    or `jiffies + 1` inside a timer callback (`__run_timers` moves
//!    `base->clk` one ahead before it runs the expired timers);
//! 4. the timer fires in that jiffy's tick, a few µs in
//!    ([`in_tick_offset`]): `__run_timers` runs a tick's expired timers
//!    coarsest level first and, within a level's slot, the last armed
//!    first, and synsim keeps that order.
//!
//! `hz = 0` is the ablation: exact timers, `now + timeout`.
//!
//! Cost: a multiplication and a division each way and at most nine
//! comparisons, once per armed timer.

use crate::engine::{SimDuration, SimTime};

/// The CONFIG_HZ values a kernel can be built with, and 0 for exact timers.
pub const HZ_CHOICES: [u32; 5] = [0, 100, 250, 300, 1000];
/// `HZ_CHOICES` in the user's words, for error messages.
pub const HZ_CHOICES_IN_WORDS: &str = "0 (exact timers), 100, 250, 300 or 1000";
/// CONFIG_HZ of Debian's and Ubuntu's kernels (and of the testbed).
pub const DEFAULT_HZ: u32 = 250;

const NSEC_PER_SEC: u64 = 1_000_000_000;
/// `LVL_CLK_SHIFT`: each level is 8x coarser than the one below.
const LVL_CLK_SHIFT: u32 = 3;
/// `LVL_BITS`: 64 slots a level.
const LVL_BITS: u32 = 6;
const LVL_SIZE: u64 = 1 << LVL_BITS;

/// `LVL_SHIFT(n)`.
const fn lvl_shift(n: u32) -> u32 {
    n * LVL_CLK_SHIFT
}

/// `LVL_GRAN(n)`: the granularity of level `n`, in jiffies.
pub const fn lvl_gran(n: u32) -> u64 {
    1 << lvl_shift(n)
}

/// `LVL_START(n)`: the smallest `expires - clk` that goes to level `n`.
const fn lvl_start(n: u32) -> u64 {
    (LVL_SIZE - 1) << ((n - 1) * LVL_CLK_SHIFT)
}

/// `LVL_DEPTH`: 9 levels when HZ > 100, else 8.
const fn lvl_depth(hz: u32) -> u32 {
    if hz > 100 { 9 } else { 8 }
}

/// `calc_index()`'s bucket expiry at level `lvl`: the expiry rounded up to
/// the level's granularity, always past `expires` (even at level 0).
const fn calc_index(expires: u64, lvl: u32) -> u64 {
    ((expires >> lvl_shift(lvl)) + 1) << lvl_shift(lvl)
}

/// The level `calc_wheel_index()` puts a timer on, `delta = expires - clk`
/// jiffies away (delta below the wheel's cutoff).
#[inline(always)]
fn level(delta: u64, depth: u32) -> u32 {
    let mut lvl = 0;
    while lvl + 1 < depth && delta >= lvl_start(lvl + 1) {
        lvl += 1;
    }
    lvl
}

/// `calc_wheel_index()`: the jiffy at which a timer armed with `expires`
/// fires, the wheel's clock being `clk`.
pub fn bucket_expiry(expires: u64, clk: u64, hz: u32) -> u64 {
    slot_of(expires, clk, hz).0
}

/// `calc_wheel_index()`: the jiffy a timer fires at and its level.
#[inline(always)]
fn slot_of(expires: u64, clk: u64, hz: u32) -> (u64, u32) {
    let depth = lvl_depth(hz);
    let delta = expires.wrapping_sub(clk);
    if (delta as i64) < 0 {
        return (clk, 0); // already due: the current slot (`forward_timer_base` puts it at level 0)
    }
    // `WHEEL_TIMEOUT_CUTOFF`: obscenely large timeouts expire at the
    // wheel's capacity (`WHEEL_TIMEOUT_MAX`).
    let cutoff = lvl_start(depth);
    if delta >= cutoff {
        return (calc_index(clk + cutoff - lvl_gran(depth - 1), depth - 1), depth - 1);
    }
    let lvl = level(delta, depth);
    (calc_index(expires, lvl), lvl)
}

/// How far into its tick a level's timers start: each level's come this
/// much after the next coarser level's.
const TICK_LEVEL_STRIDE_NS: u64 = 2048;
/// Levels from here up (timers over 131 s at HZ 250: keepalive, nothing
/// of a handshake or teardown) share the first stride.
const TICK_LEVELS_ORDERED: u32 = 4;
/// The latest a timer runs into its tick.
pub const TICK_SPREAD_NS: u64 = TICK_LEVEL_STRIDE_NS * (TICK_LEVELS_ORDERED as u64 + 1);

/// Where in its tick a timer runs, in ns after the tick: the order
/// `__run_timers` gives the tick's expired timers, written as a time.
/// `collect_expired_timers` takes the due slot of every level and
/// `expire_timers` runs them from the coarsest level down; within a slot
/// the timer armed last runs first (`enqueue_timer` adds at the head of
/// the slot's list). So a level's timers sit `TICK_LEVEL_STRIDE_NS` after
/// the coarser level's, and inside that stride the nearer its tick was
/// when it was armed (the later armed), the earlier: the ns from arming to
/// the tick, shifted down into the stride (timers armed closer together
/// than that shift's resolution, about 1/2048 of the level's reach: 1 ms
/// for the 1 s and 2 s timers at HZ 250, keep their arming order). A batch
/// of callbacks takes µs in the kernel too; the spread stays under 11 µs.
/// Not modelled: a kernel has a wheel per CPU, and a tick's timers on two
/// CPUs run side by side.
#[inline(always)]
fn in_tick_offset(lvl: u32, until_tick_ns: u64, hz: u32) -> u64 {
    let lifo = until_tick_ns >> (lifo_shift(hz) + lvl_shift(lvl));
    let rank = TICK_LEVELS_ORDERED - lvl.min(TICK_LEVELS_ORDERED);
    rank as u64 * TICK_LEVEL_STRIDE_NS + lifo.min(TICK_LEVEL_STRIDE_NS - 1)
}

/// The reach of level 0 (its start, a slot, the tick: 65 jiffies) over the
/// stride, as a power of two rounded up: `until_tick_ns >> shift` then
/// stays under the stride at every level (each level's reach is 8x the
/// one below, as `lvl_shift` adds 3). A shift rather than a division per
/// armed timer; `expires` inlines this with `hz` a constant, so it folds.
#[inline(always)]
const fn lifo_shift(hz: u32) -> u32 {
    let reach0 = (lvl_start(1) + 2) * NSEC_PER_SEC / hz as u64;
    (reach0.div_ceil(TICK_LEVEL_STRIDE_NS)).next_power_of_two().trailing_zeros()
}

/// The jiffy `now` falls in.
#[inline(always)]
fn jiffy_of(now: SimTime, hz: u32) -> u64 {
    match now.0.checked_mul(hz as u64) {
        Some(x) => x / NSEC_PER_SEC,
        None => (now.0 as u128 * hz as u128 / NSEC_PER_SEC as u128) as u64,
    }
}

/// The first nanosecond of jiffy `j` (its tick).
#[inline(always)]
fn start_of(j: u64, hz: u32) -> SimTime {
    SimTime(match j.checked_mul(NSEC_PER_SEC) {
        Some(x) => x.div_ceil(hz as u64),
        None => (j as u128 * NSEC_PER_SEC as u128).div_ceil(hz as u128) as u64,
    })
}

/// The tick a timer firing at `at` runs in: its jiffy's first nanosecond.
pub fn tick_of(at: SimTime, hz: u32) -> SimTime {
    if hz == 0 { at } else { start_of(jiffy_of(at, hz), hz) }
}

/// A timeout in whole jiffies, rounded up (`msecs_to_jiffies`).
#[inline(always)]
pub fn to_jiffies(d: SimDuration, hz: u32) -> u64 {
    match d.0.checked_mul(hz as u64) {
        Some(x) => x.div_ceil(NSEC_PER_SEC),
        None => (d.0 as u128 * hz as u128).div_ceil(NSEC_PER_SEC as u128) as u64,
    }
}

/// When a timer armed at `now` for `timeout` fires on a kernel with
/// CONFIG_HZ `hz` (0: exactly at `now + timeout`). `in_timer`: armed from a
/// timer callback, where the wheel's clock is one jiffy ahead.
pub fn expires(now: SimTime, timeout: SimDuration, hz: u32, in_timer: bool) -> SimTime {
    // Each CONFIG_HZ its own copy, so that every division by `hz` below is
    // by a constant (a multiply): this runs at every armed timer.
    match hz {
        0 => now + timeout,
        100 => expires_at(now, timeout, 100, in_timer),
        250 => expires_at(now, timeout, 250, in_timer),
        300 => expires_at(now, timeout, 300, in_timer),
        1000 => expires_at(now, timeout, 1000, in_timer),
        _ => expires_at(now, timeout, hz, in_timer),
    }
}

#[inline(always)]
fn expires_at(now: SimTime, timeout: SimDuration, hz: u32, in_timer: bool) -> SimTime {
    let jiffies = jiffy_of(now, hz);
    let expires = jiffies.saturating_add(to_jiffies(timeout, hz));
    let (slot, lvl) = slot_of(expires, jiffies + in_timer as u64, hz);
    let tick = start_of(slot, hz);
    tick + SimDuration(in_tick_offset(lvl, tick.0.saturating_sub(now.0), hz))
}

/// [`expires`] on a host whose jiffies are `phase` ns ahead of the
/// reference clock's (the server's): its wheel's slots, and so its
/// timers' batches, sit elsewhere on the time line.
pub fn expires_on(now: SimTime, timeout: SimDuration, hz: u32, in_timer: bool, phase: u64) -> SimTime {
    if phase == 0 {
        return expires(now, timeout, hz, in_timer);
    }
    SimTime(expires(SimTime(now.0 + phase), timeout, hz, in_timer).0 - phase)
}

/// Jiffies a host's phase spans: the granularity of the wheel's level 8,
/// so that every level's slots fall at an independent offset.
const PHASE_SPAN_JIFFIES: u64 = 1 << 24;

/// How far ahead of the reference clock (the server's) the jiffies of the
/// host at `ip` run, in ns: a host's jiffies count from its own boot, so
/// machines apart have unrelated phases. `secret` 0: the host shares the
/// reference clock (a network namespace of the server's machine).
pub fn clock_phase(ip: u32, secret: u64, hz: u32) -> u64 {
    if secret == 0 || hz == 0 {
        return 0;
    }
    let span = PHASE_SPAN_JIFFIES * NSEC_PER_SEC / hz as u64;
    // Uniform over [0, span) by a multiply (Lemire's range reduction), not
    // a division: this runs at every armed timer.
    ((crate::engine::rng::mix64(secret ^ ip as u64) as u128 * span as u128) >> 64) as u64
}

/// The longest a timer armed for `timeout` can take to fire, over every
/// phase of the clock (exact at `hz = 0`): the timeout in jiffies, one
/// jiffy of callback clock, its level's rounding, and the tick. An upper
/// bound for warm-ups, not a schedule.
pub fn longest(timeout: SimDuration, hz: u32) -> SimDuration {
    if hz == 0 {
        return timeout;
    }
    let delta = to_jiffies(timeout, hz) + 1;
    let gran = lvl_gran(level(delta, lvl_depth(hz)));
    SimDuration(start_of(delta + gran + 1, hz).0 + TICK_SPREAD_NS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `calc_wheel_index()` restated literally: the chain of `if`s over
    /// the levels and `(expires + LVL_GRAN(lvl)) >> LVL_SHIFT(lvl)`, the
    /// form the kernel had before 2020 (the same arithmetic).
    fn kernel_rule(expires: u64, clk: u64, hz: u32) -> u64 {
        let depth: u32 = if hz > 100 { 9 } else { 8 };
        let start = |n: u32| 63u64 << ((n - 1) * 3);
        let index = |e: u64, lvl: u32| ((e + (1 << (3 * lvl))) >> (3 * lvl)) << (3 * lvl);
        let delta = expires.wrapping_sub(clk);
        for lvl in 0..depth - 1 {
            if delta < start(lvl + 1) {
                return index(expires, lvl);
            }
        }
        if (delta as i64) < 0 {
            return clk;
        }
        let mut e = expires;
        if delta >= start(depth) {
            e = clk + start(depth) - (1 << (3 * (depth - 1)));
        }
        index(e, depth - 1)
    }

    #[test]
    fn bucket_expiry_is_the_kernels_rule() {
        for hz in [100, 250, 300, 1000] {
            for clk in (0..70).chain([4095, 32_767, 1 << 20, (1 << 32) - 75_000]) {
                // Every delta through level 2 and into level 3, then a
                // spread across all levels and past the cutoff.
                let deltas = (0..5000u64).chain((0..3000).map(|i| i * i * 997 + 3)).chain([1 << 40]);
                for delta in deltas {
                    let e = clk + delta;
                    let b = bucket_expiry(e, clk, hz);
                    assert_eq!(b, kernel_rule(e, clk, hz), "hz {hz} clk {clk} expires {e}");
                    if delta < lvl_start(lvl_depth(hz)) {
                        assert!(b > e, "never early, even at level 0");
                    }
                }
                // Already past: the current slot.
                assert_eq!(
                    bucket_expiry(clk.wrapping_sub(5), clk, hz),
                    kernel_rule(clk.wrapping_sub(5), clk, hz)
                );
            }
        }
    }

    #[test]
    fn granularity_grows_eightfold_per_level() {
        // Deltas at the start of each level, from clk 0: the slot rounds
        // up to a multiple of that level's granularity.
        assert_eq!(bucket_expiry(62, 0, 250), 63); // level 0: next jiffy
        assert_eq!(bucket_expiry(63, 0, 250), 64); // level 1: 8 jiffies
        assert_eq!(bucket_expiry(250, 0, 250), 256);
        assert_eq!(bucket_expiry(504, 0, 250), 512); // level 2: 64
        assert_eq!(bucket_expiry(15_000, 0, 250), 15_360); // level 3: 512
        assert_eq!(lvl_gran(3), 512);
    }

    #[test]
    fn jiffies_round_up_and_ticks_start_on_the_nanosecond() {
        let ms = |m| SimDuration::from_millis(m);
        assert_eq!(to_jiffies(ms(1000), 250), 250);
        assert_eq!(to_jiffies(ms(1001), 250), 251);
        assert_eq!(to_jiffies(ms(10), 300), 3);
        assert_eq!(start_of(1, 300), SimTime(3_333_334));
        assert_eq!(jiffy_of(SimTime(3_333_334), 300), 1);
        assert_eq!(jiffy_of(SimTime(3_333_333), 300), 0);
        for hz in [100, 250, 300, 1000] {
            for j in [0, 1, 7, 12_345, 1 << 30] {
                assert_eq!(jiffy_of(start_of(j, hz), hz), j);
                assert_eq!(jiffy_of(SimTime(start_of(j + 1, hz).0 - 1), hz), j);
            }
        }
    }

    #[test]
    fn the_testbeds_synack_schedule_at_hz_250() {
        // A SYN taken at 4 jiffies past an 8-jiffy boundary (16 ms): the
        // SYN-ACK timer (1 s = 250 jiffies, level 1) fires 1.008 s later,
        // the next one (2 s = 500 jiffies, armed in the callback) 2.016 s
        // after that: 0, 1.008, 3.024 s, as the testbed showed.
        let t0 = SimTime::ZERO + SimDuration::from_millis(16);
        let first = expires(t0, SimDuration::from_secs(1), 250, false);
        assert_eq!(tick_of(first, 250) - t0, SimDuration::from_millis(1008));
        let second = expires(first, SimDuration::from_secs(2), 250, true);
        assert_eq!(tick_of(second, 250) - t0, SimDuration::from_millis(3024));
        // Wherever the SYN lands, a 1 s timer fires within (1, 1.032] s.
        for us in (0..40_000).step_by(7) {
            let t = SimTime::ZERO + SimDuration::from_micros(us);
            let d = expires(t, SimDuration::from_secs(1), 250, false) - t;
            let spread = SimDuration(TICK_SPREAD_NS);
            assert!(d > SimDuration::from_secs(1) && d <= SimDuration::from_millis(1032) + spread, "{d}");
        }
    }

    #[test]
    fn time_wait_lands_on_a_2_s_grid_at_hz_250() {
        // 60 s = 15000 jiffies, level 3 (512 jiffies = 2.048 s).
        let t = SimTime::ZERO + SimDuration::from_millis(500);
        let e = expires(t, SimDuration::from_secs(60), 250, false);
        assert_eq!(tick_of(e, 250), SimTime::ZERO + SimDuration::from_nanos(30 * 512 * 4_000_000));
        assert_eq!(expires(t, SimDuration::from_secs(60), 0, false), t + SimDuration::from_secs(60));
    }

    #[test]
    fn a_host_at_its_own_phase_rounds_to_its_own_grid() {
        let t = SimTime::ZERO + SimDuration::from_millis(500);
        let one_s = SimDuration::from_secs(1);
        assert_eq!(expires_on(t, one_s, 250, false, 0), expires(t, one_s, 250, false));
        assert_eq!(clock_phase(7, 0, 250), 0, "no secret: the reference clock");
        assert_eq!(clock_phase(7, 99, 0), 0, "exact timers have no phase");
        let phase = clock_phase(7, 99, 250);
        assert_ne!(phase, clock_phase(8, 99, 250), "hosts apart, phases apart");
        // 1 s = 250 jiffies, level 1: the end of an 8-jiffy (32 ms) slot of
        // the host's own jiffies, no earlier than the timeout.
        let e = expires_on(t, one_s, 250, false, phase);
        assert!(e >= t + one_s && e <= t + one_s + SimDuration::from_millis(36), "{e:?}");
        let tick = tick_of(SimTime(e.0 + phase), 250);
        assert_eq!(tick.0 % 32_000_000, 0, "on the host's own 32 ms grid");
        assert!(e.0 + phase - tick.0 < TICK_SPREAD_NS, "in that tick");
        assert_ne!(e, expires(t, one_s, 250, false), "not the reference clock's slot");
    }

    #[test]
    fn longest_bounds_every_phase() {
        for hz in [100, 250, 300, 1000] {
            for secs in [1u64, 2, 4, 8, 16, 32, 60] {
                let timeout = SimDuration::from_secs(secs);
                let bound = longest(timeout, hz);
                let worst = (0..5000u64)
                    .flat_map(|k| {
                        let now = SimTime(k * 7_919_993 + 13);
                        [false, true].map(|cb| expires(now, timeout, hz, cb).0 - now.0)
                    })
                    .max()
                    .unwrap();
                assert!(worst <= bound.0, "hz {hz}, {secs} s: {worst} > {}", bound.0);
                assert!(
                    bound.0 - worst <= 3 * NSEC_PER_SEC / hz as u64 + bound.0 / 16,
                    "hz {hz}, {secs} s: loose"
                );
            }
        }
        assert_eq!(longest(SimDuration::from_secs(3), 0), SimDuration::from_secs(3));
    }

    #[test]
    fn later_arming_never_fires_in_an_earlier_tick() {
        // Monotone in `now` but for the order inside a tick: the TIME-WAIT
        // ring's disorder on one clock is the tick's spread.
        for hz in [100, 250, 300, 1000] {
            let mut last = SimTime::ZERO;
            for ms in 0..20_000 {
                let e = expires(
                    SimTime::ZERO + SimDuration::from_millis(ms),
                    SimDuration::from_secs(60),
                    hz,
                    false,
                );
                assert!(tick_of(e, hz) >= tick_of(last, hz));
                assert!(e.0 + TICK_SPREAD_NS > last.0);
                last = e;
            }
        }
    }

    #[test]
    fn a_tick_runs_the_coarsest_level_first_and_the_last_armed_first() {
        // `__run_timers`: tick 1024 (4.096 s at HZ 250) is due for a
        // level-2 timer (3 s, armed at 1.0 s), level-1 timers (1 s and 2 s)
        // and a level-0 one (200 ms). Expected order: level 2, then level 1
        // with the later armed first, then level 0.
        let hz = 250;
        let at = |ms: u64, timeout_ms: u64| {
            expires(
                SimTime::ZERO + SimDuration::from_millis(ms),
                SimDuration::from_millis(timeout_ms),
                hz,
                false,
            )
        };
        let level2 = at(1000, 3000); // 750 jiffies -> 1024
        let level1_early = at(2080, 2000); // 520 + 500 = 1020 -> 1024
        let level1_late = at(3080, 1000); // 770 + 250 = 1020 -> 1024
        let level0 = at(3892, 200); // 973 + 50 = 1023 -> 1024 (level 0 rounds up one)
        let tick = SimTime(1024 * 4_000_000);
        for e in [level2, level1_early, level1_late, level0] {
            assert_eq!(tick_of(e, hz), tick, "all in one tick: {e:?}");
            assert!(e.0 - tick.0 < TICK_SPREAD_NS);
        }
        assert!(level2 < level1_late, "coarser level first");
        assert!(level1_late < level1_early, "last armed first within a slot");
        assert!(level1_early < level0, "level 0 last");
        // Exact timers have no tick.
        assert_eq!(expires(SimTime(7), SimDuration::from_secs(1), 0, false), SimTime(1_000_000_007));
    }

    #[test]
    fn the_lifo_shift_keeps_each_levels_longest_wait_inside_the_stride() {
        assert_eq!([100, 250, 300, 1000].map(lifo_shift), [19, 17, 17, 15]);
        for hz in HZ_CHOICES.into_iter().filter(|&hz| hz > 0) {
            for lvl in 0..lvl_depth(hz) - 1 {
                let longest = start_of(lvl_start(lvl + 1) + 2 * lvl_gran(lvl), hz).0;
                assert!(
                    longest >> (lifo_shift(hz) + lvl_shift(lvl)) < TICK_LEVEL_STRIDE_NS,
                    "hz {hz} lvl {lvl}"
                );
            }
        }
    }

    #[test]
    fn the_in_tick_offset_stays_inside_its_level_stride() {
        for hz in [100, 250, 300, 1000] {
            for lvl in 0..lvl_depth(hz) {
                let base = (TICK_LEVELS_ORDERED - lvl.min(TICK_LEVELS_ORDERED)) as u64 * TICK_LEVEL_STRIDE_NS;
                for until in [0u64, 1, 999_999, 1 << 30, 1 << 40, u64::MAX / 2] {
                    let o = in_tick_offset(lvl, until, hz);
                    assert!(
                        o >= base && o < base + TICK_LEVEL_STRIDE_NS,
                        "hz {hz} lvl {lvl} until {until}: {o}"
                    );
                    assert!(o < TICK_SPREAD_NS);
                }
            }
        }
    }
}
