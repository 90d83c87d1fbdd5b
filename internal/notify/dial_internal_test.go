package notify

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestWebhookDialRefusesLinkLocal checks the delivery client's own
// check, made on the address a name resolved to: link-local, multicast
// and unspecified addresses are refused, loopback and private ones are
// not.
func TestWebhookDialRefusesLinkLocal(t *testing.T) {
	for addr, refused := range map[string]bool{
		"169.254.169.254:80": true, "[fe80::1]:443": true, "0.0.0.0:443": true, "[::]:443": true,
		"[::ffff:169.254.169.254]:80": true, "[fd00:ec2::254]:80": true, "239.1.2.3:80": true,
		"127.0.0.1:8080": false, "10.0.0.5:443": false, "[::1]:443": false, "93.184.216.34:443": false,
	} {
		if err := refuseUnreachable("tcp", addr, nil); (err != nil) != refused {
			t.Errorf("%s: %v, want refused %v", addr, err, refused)
		}
	}
	// Through the client, as a delivery goes: nothing is sent.
	req, err := http.NewRequestWithContext(context.Background(), "POST", "http://169.254.169.254/latest/meta-data/", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := webhookClient().Do(req); err == nil || !strings.Contains(err.Error(), "link-local") {
		if resp != nil {
			resp.Body.Close()
		}
		t.Errorf("a delivery to the metadata service: %v", err)
	}
}
