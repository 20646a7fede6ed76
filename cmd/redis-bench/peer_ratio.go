package main

// peerRatio compares a row with the same job done by a peer tool, both
// whole processes from start to exit on the same input and redis-server:
// our value divided by the peer's (below 1 is better for us).
type peerRatio struct {
	Peer       string  `json:"peer"`
	PeerWallS  float64 `json:"peer_wall_s"`
	PeerCPUS   float64 `json:"peer_cpu_s"`
	PeerRSSMiB float64 `json:"peer_rss_mib"`
	OursWallS  float64 `json:"ours_wall_s"`
	OursCPUS   float64 `json:"ours_cpu_s"`
	OursRSSMiB float64 `json:"ours_rss_mib"`
	Wall       float64 `json:"wall"`
	CPU        float64 `json:"cpu"`
	RSS        float64 `json:"rss"`
	// Speedup is the peer's wall time over ours: how many times our
	// throughput.
	Speedup float64 `json:"speedup"`
}
