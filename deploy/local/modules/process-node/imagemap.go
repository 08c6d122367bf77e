// Image map: container images are never pulled; each image reference maps,
// by the first matching --image-map glob, to a directory whose bin/ is put
// in front of the pod's PATH (or to the host's own binaries).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hostImage is the --image-map directory that means "the host's binaries".
const hostImage = "host"

// imageRule is one --image-map PATTERN=DIR.
type imageRule struct {
	Pattern string // glob on the image reference: '*' any run of characters, '?' one
	Dir     string // a directory with bin/, or hostImage
}

// parseImageRule parses PATTERN=DIR; DIR is "host" or an absolute path.
func parseImageRule(s string) (imageRule, error) {
	pattern, dir, ok := strings.Cut(s, "=")
	if !ok || pattern == "" || dir == "" {
		return imageRule{}, fmt.Errorf("--image-map %q: want PATTERN=DIR", s)
	}
	if dir != hostImage && !filepath.IsAbs(dir) {
		return imageRule{}, fmt.Errorf("--image-map %q: DIR must be an absolute path or %q", s, hostImage)
	}
	return imageRule{Pattern: pattern, Dir: filepath.Clean(dir)}, nil
}

// check verifies a directory rule has a bin/ directory.
func (r imageRule) check() error {
	if r.Dir == hostImage {
		return nil
	}
	st, err := os.Stat(filepath.Join(r.Dir, "bin"))
	if err != nil || !st.IsDir() {
		return fmt.Errorf("--image-map %s=%s: %s/bin is not a directory", r.Pattern, r.Dir, r.Dir)
	}
	return nil
}

// imageCandidates are the spellings an image reference is matched under:
// as written and without the implied docker.io/ and docker.io/library/.
func imageCandidates(image string) []string {
	out := []string{image}
	for _, prefix := range []string{"docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(image, prefix); ok {
			out = append(out, rest)
		}
	}
	return out
}

// matchImage returns the first rule whose pattern matches image.
func matchImage(rules []imageRule, image string) (imageRule, bool) {
	for _, r := range rules {
		for _, c := range imageCandidates(image) {
			if globMatch(r.Pattern, c) {
				return r, true
			}
		}
	}
	return imageRule{}, false
}

// globMatch matches s against pattern where '*' matches any run of
// characters (also '/' and ':') and '?' exactly one.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
