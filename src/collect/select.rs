//! Which VMs a run reports: `--vm GLOB` and `--exclude GLOB`, on the VM name, as collectd's
//! virt `Domain` and Telegraf's `domains` choose them. The backends drop the others before
//! asking for their stats, so an excluded VM costs no stats call.
//!
//! Patterns are the `glob` crate's (the rust-lang one), matched against the whole name, case
//! sensitive: `*` any run of characters, `?` one character, `[abc]`, `[a-z]` and `[!abc]` one
//! of (or none of) a set; `[*]`, `[?]` and `[[]` match the character itself.

use glob::{MatchOptions, Pattern};

/// VM names have no path structure: `*` crosses `/` and a leading `.` like any character.
const NAME_MATCHING: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// The `--vm` and `--exclude` patterns of a run; the default reports every VM.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

/// One `--vm` or `--exclude` pattern, checked as the command line is read.
pub fn parse_pattern(text: &str) -> Result<Pattern, String> {
    Pattern::new(text).map_err(|e| format!("'{text}' is not a glob pattern: {e}"))
}

impl Selection {
    /// Reports the VMs matching any of `include` (every VM when it is empty), less those
    /// matching any of `exclude`.
    pub fn new(include: Vec<Pattern>, exclude: Vec<Pattern>) -> Selection {
        Selection { include, exclude }
    }

    /// Whether every VM is reported (no pattern given).
    pub fn is_everything(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether the VM named `name` is reported.
    pub fn admits(&self, name: &str) -> bool {
        let matches = |p: &Pattern| p.matches_with(name, NAME_MATCHING);
        (self.include.is_empty() || self.include.iter().any(matches))
            && !self.exclude.iter().any(matches)
    }

    /// The patterns as they were given, for a status page: `--vm 'web-*' --exclude 'web-9'`.
    pub fn describe(&self) -> String {
        let options = self
            .include
            .iter()
            .map(|p| ("--vm", p))
            .chain(self.exclude.iter().map(|p| ("--exclude", p)));
        options
            .map(|(option, p)| format!("{option} '{}'", p.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The filter as the snapshot records it, `left_out` being how many VMs it dropped;
    /// `None` when every VM is reported.
    pub fn applied(&self, left_out: usize) -> Option<crate::model::Filtered> {
        (!self.is_everything()).then(|| crate::model::Filtered {
            rules: self.describe(),
            left_out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(include: &[&str], exclude: &[&str]) -> Selection {
        let patterns = |list: &[&str]| list.iter().map(|p| parse_pattern(p).unwrap()).collect();
        Selection::new(patterns(include), patterns(exclude))
    }

    #[test]
    fn no_pattern_reports_every_vm() {
        let all = Selection::default();
        assert!(all.is_everything());
        assert!(all.admits("anything"));
        assert!(all.admits(""));
        assert_eq!(all.applied(0), None);
    }

    #[test]
    fn include_patterns_are_or_ed_and_match_the_whole_name() {
        let s = selection(&["web-*", "db?"], &[]);
        assert!(s.admits("web-01"));
        assert!(s.admits("db1"));
        assert!(!s.admits("db12"), "? is one character");
        assert!(!s.admits("my-web-01"), "anchored at the start");
        assert!(!s.admits("Web-01"), "case sensitive");
    }

    #[test]
    fn exclude_wins_over_include_and_works_alone() {
        let s = selection(&["web-*"], &["web-9*"]);
        assert!(s.admits("web-1"));
        assert!(!s.admits("web-90"));
        let only_exclude = selection(&[], &["test-*", "tmp"]);
        assert!(only_exclude.admits("prod"));
        assert!(!only_exclude.admits("test-a"));
        assert!(!only_exclude.admits("tmp"));
        assert!(only_exclude.admits("tmp2"));
    }

    #[test]
    fn names_are_not_paths_and_brackets_escape() {
        let s = selection(&["a*z"], &[]);
        assert!(s.admits("a/b.z"), "* crosses /");
        assert!(
            selection(&["*"], &[]).admits(".hidden"),
            "a leading dot is a character"
        );
        let literal = selection(&["50[%]", "x[*]"], &[]);
        assert!(literal.admits("50%"));
        assert!(literal.admits("x*"));
        assert!(!literal.admits("xy"));
        assert!(selection(&["[!a]*"], &[]).admits("b1"));
        assert!(!selection(&["[!a]*"], &[]).admits("a1"));
    }

    #[test]
    fn a_bad_pattern_is_refused_with_its_text() {
        let e = parse_pattern("web-[").unwrap_err();
        assert!(e.contains("'web-['"), "{e}");
    }

    #[test]
    fn the_description_lists_the_options_in_their_order() {
        let s = selection(&["web-*", "db"], &["web-9"]);
        assert_eq!(s.describe(), "--vm 'web-*' --vm 'db' --exclude 'web-9'");
        let applied = s.applied(3).unwrap();
        assert_eq!(applied.left_out, 3);
        assert_eq!(applied.rules, s.describe());
    }
}
