package gen

// Ids are pure functions of the data set's key and a position in it, so a
// re-run or a retried request carries the same event_id and the sinks can
// de-duplicate.

const hexDigits = "0123456789abcdef"

// dataKey condenses everything that shapes the data set. MaxEvents is left
// out on purpose: capping a run must not change the ids of what it emits.
func dataKey(c Config) uint64 {
	k := mix64(c.Seed + 0x9e3779b97f4a7c15)
	k = mix64(k ^ uint64(c.Start.UnixMilli()))
	k = mix64(k ^ uint64(c.End.UnixMilli()))
	return mix64(k ^ uint64(c.Tenants)<<32 ^ uint64(c.Users))
}

// eventID is a version-8 (custom) UUID for the seq-th event of user idx.
// Its first 64 random bits are a bijection of (idx, seq), so ids never
// collide within one data set; the other bits only add entropy.
func eventID(key uint64, idx int32, seq uint32) string {
	pos := uint64(uint32(idx))<<32 | uint64(seq)
	a := mix64(key ^ pos)
	b := mix64(a ^ key>>1 ^ 0x6a09e667f3bcc909)
	var u [16]byte
	// a fills bytes 0-5, 7 and 9; b fills what the version and variant
	// bits leave of bytes 6 and 8, and bytes 10-15.
	for i := range 6 {
		u[i] = byte(a >> (56 - 8*i))
	}
	u[7] = byte(a >> 8)
	u[9] = byte(a)
	u[6] = 0x80 | byte(b>>56)&0x0f
	u[8] = 0x80 | byte(b>>48)&0x3f
	for i := 10; i < 16; i++ {
		u[i] = byte(b >> (8 * (15 - i)))
	}
	var s [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexDigits[c>>4], hexDigits[c&0x0f]
		j += 2
	}
	return string(s[:])
}

// sessionID names the n-th session of user idx: "s_" and 16 hex digits.
func sessionID(key uint64, idx int32, n uint32) string {
	x := mix64(key ^ 0xa54ff53a5f1d36f1 ^ (uint64(uint32(idx))<<32 | uint64(n)))
	var s [18]byte
	s[0], s[1] = 's', '_'
	for i := range 16 {
		s[2+i] = hexDigits[x>>(60-4*i)&0x0f]
	}
	return string(s[:])
}
