//! Path scopes of filesystem grants: a path, or a glob over paths.
//!
//! Matching is by path components, never by raw text, so `/data` does not
//! cover `/database`:
//! - a path without wildcards covers itself and everything under it;
//! - `*` matches any run of characters inside one component, `?` one
//!   character; neither crosses a `/`;
//! - `**` as a whole component matches any number of components (zero too).
//!
//! Paths given to [`PathScope::matches`] must be absolute and normalised
//! (no `.` or `..`): the filesystem layer joins a guest's relative path to
//! the directory it was opened from and refuses `..` before asking.

/// One grant's path or glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathScope {
    parts: Vec<String>,
    glob: bool,
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

impl PathScope {
    /// `pattern` is absolute and normalised ([`super::Capability::parse`]).
    pub fn new(pattern: &str) -> PathScope {
        let parts: Vec<String> = pattern.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
        let glob = parts.iter().any(|p| has_wildcard(p));
        PathScope { parts, glob }
    }

    /// Refuse patterns whose meaning would surprise: `**` inside a component.
    pub fn check(pattern: &str) -> Result<(), String> {
        for part in pattern.split('/') {
            if part.contains("**") && part != "**" {
                return Err(format!("`{pattern}`: `**` must be a whole path component (`/data/**/x.csv`)"));
            }
        }
        Ok(())
    }

    /// The directory to open for this scope: the components before the
    /// first wildcard. For a plain path that names a file, its caller opens
    /// the parent instead.
    pub fn base(&self) -> String {
        let fixed: Vec<&str> = self.parts.iter().take_while(|p| !has_wildcard(p)).map(String::as_str).collect();
        format!("/{}", fixed.join("/"))
    }

    /// Whether the scope has wildcards.
    pub fn is_glob(&self) -> bool {
        self.glob
    }

    /// Whether `path` is inside the scope.
    pub fn matches(&self, path: &str) -> bool {
        let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if !self.glob {
            return path.len() >= self.parts.len() && self.parts.iter().zip(&path).all(|(a, b)| a == b);
        }
        let pat: Vec<&str> = self.parts.iter().map(String::as_str).collect();
        components(&pat, &path, false)
    }

    /// Whether `dir` is on the way to something inside the scope: a guest
    /// may open it (to go further down) but not necessarily its files.
    pub fn leads_to(&self, dir: &str) -> bool {
        let path: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
        let pat: Vec<&str> = self.parts.iter().map(String::as_str).collect();
        components(&pat, &path, true) || self.matches(dir)
    }

    /// Whether every path `other` (a pattern) can name is inside this one;
    /// answered exactly when `other` has no wildcards, conservatively
    /// (only for identical patterns) otherwise.
    pub fn matches_pattern(&self, other: &str) -> bool {
        let o = PathScope::new(other);
        if o.glob { *self == o } else { self.matches(other) }
    }
}

/// Match path components against pattern components, by dynamic
/// programming over (pattern, path) positions: time and memory are the
/// product of the two lengths whatever the `**`s, never exponential. With
/// `prefix`, a path that ends while the pattern still has components
/// matches too.
fn components(pat: &[&str], path: &[&str], prefix: bool) -> bool {
    let (p, n) = (pat.len(), path.len());
    // ok[j]: pattern suffix from the current row matches path suffix from j.
    let mut next = vec![false; n + 1];
    // Row p (empty pattern): matches only the empty path.
    next[n] = true;
    for i in (0..p).rev() {
        let mut row = vec![false; n + 1];
        row[n] = prefix || pat[i..].iter().all(|c| *c == "**");
        for j in (0..n).rev() {
            row[j] = if pat[i] == "**" {
                next[j] || row[j + 1]
            } else {
                wildcard(pat[i].as_bytes(), path[j].as_bytes()) && next[j + 1]
            };
        }
        next = row;
    }
    next[0]
}

/// `*` and `?` inside one component.
fn wildcard(p: &[u8], s: &[u8]) -> bool {
    // Iterative matcher with one backtrack point (the last `*`).
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_cover_their_subtree_by_component() {
        let s = PathScope::new("/data");
        assert!(s.matches("/data") && s.matches("/data/a/b.csv"));
        assert!(!s.matches("/database") && !s.matches("/") && !s.matches("/etc/passwd"));
        assert_eq!(s.base(), "/data");
    }

    #[test]
    fn globs_match_by_component() {
        let s = PathScope::new("/data/*.csv");
        assert!(s.matches("/data/a.csv") && !s.matches("/data/x/a.csv") && !s.matches("/data/a.txt"));
        assert_eq!(s.base(), "/data");
        assert!(s.leads_to("/data") && !s.leads_to("/etc"));
        let deep = PathScope::new("/data/**/in-?.log");
        assert!(deep.matches("/data/in-1.log") && deep.matches("/data/a/b/in-2.log"));
        assert!(!deep.matches("/data/a/in-10.log"));
        assert!(deep.leads_to("/data/a/b"));
        let all = PathScope::new("/srv/**");
        assert!(all.matches("/srv") && all.matches("/srv/x/y") && !all.matches("/srvx"));
    }

    #[test]
    fn many_double_stars_stay_fast() {
        let s = PathScope::new("/a/**/b/**/c/**/d/**/e/**/f/**/g/**/zz");
        let deep = format!("/a/{}", vec!["x"; 3000].join("/"));
        let t = std::time::Instant::now();
        assert!(!s.matches(&deep), "no b, c, … in it");
        assert!(s.leads_to(&deep), "a `**` can still lead anywhere below /a");
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(s.matches("/a/b/c/d/e/f/g/zz") && s.matches("/a/1/b/2/3/c/d/e/f/g/h/zz"));
        assert!(!s.matches("/a/b/c/d/e/f/zz"));
    }

    #[test]
    fn stars_backtrack() {
        assert!(wildcard(b"a*b*c", b"axxbyyc"));
        assert!(!wildcard(b"a*b*c", b"axxbyy"));
        assert!(wildcard(b"*", b""));
        assert!(!wildcard(b"?", b""));
    }
}
