//! What every ceiling run must show, floor or switchboard: steps that start at
//! `first` msg/s and double, each held but perhaps the last, at most
//! `max_steps` of them, and a ceiling that is the best held step.

use switchboard_loadtest::floor::FloorResult;

pub(crate) fn assert_doubling_steps(result: &FloorResult, first: f64, max_steps: usize) {
    assert!(
        !result.steps.is_empty() && result.steps.len() <= max_steps,
        "{:?}",
        result.steps
    );
    assert_eq!(result.steps[0].offered_msgs_per_sec, first);
    for pair in result.steps.windows(2) {
        assert_eq!(
            pair[1].offered_msgs_per_sec,
            2.0 * pair[0].offered_msgs_per_sec
        );
        assert!(pair[0].held, "only the last step may fail");
    }
    let ceiling = result.ceiling_msgs_per_sec.expect("a ceiling");
    let held: Vec<_> = result.steps.iter().filter(|s| s.held).collect();
    assert_eq!(
        result.ceiling_is_lower_bound,
        held.len() == result.steps.len()
    );
    if let Some(best) = held
        .iter()
        .map(|s| s.achieved_msgs_per_sec)
        .reduce(f64::max)
    {
        assert_eq!(ceiling, best);
    }
}
