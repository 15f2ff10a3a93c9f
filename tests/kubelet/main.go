// Command kubelet-harness runs the kubelet's own image-credential code against a provider
// binary and prints, as one JSON object, what the kubelet would keep.
//
// It does what the kubelet does, with the kubelet's packages at v1.37.2:
// plugin.RegisterCredentialProviderPlugins reads and validates the CredentialProviderConfig
// (the kubelet exits when it fails), then for each --image, in order and in one process (so
// the kubelet's in-memory cache carries over from one image to the next), the image puller's
// steps: parsers.ParseImageName, plugin.NewExternalCredentialProviderDockerKeyring for the pod,
// secrets.MakeDockerKeyring with no pull secrets, and Lookup of the repository. The pod's
// service account and its token come from flags through fake getters: no API server.
//
// Printed: the registration error, and per image the credentials found (user name and the
// password's length, never the password), the errors the kubelet logged, the token requests
// it made, and the entries of its credential cache (base key, service-account part, seconds
// to expiry). The cache is unexported state of the plugin package, read by reflection; its
// shape is pinned by go.sum.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/go-logr/logr/funcr"
	"golang.org/x/crypto/cryptobyte"
	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/plugin"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"k8s.io/kubernetes/pkg/util/parsers"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

type auth struct {
	Username       string            `json:"username"`
	PasswordLength int               `json:"passwordLength"`
	ServiceAccount *serviceAccountID `json:"serviceAccount"`
}

type serviceAccountID struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

type cacheEntry struct {
	Provider       string      `json:"provider"`
	Key            string      `json:"key"`
	ServiceAccount *saCacheKey `json:"serviceAccount"`
	Seconds        int64       `json:"seconds"`
	Registries     []string    `json:"registries"`
}

type saCacheKey struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	UID         string            `json:"uid"`
	Annotations map[string]string `json:"annotations"`
	TokenHash   string            `json:"tokenHash,omitempty"`
}

type tokenRequest struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Audiences []string `json:"audiences"`
	Pod       string   `json:"pod"`
}

type lookup struct {
	Image         string         `json:"image"`
	Repository    string         `json:"repository"`
	ParseError    string         `json:"parseError,omitempty"`
	Auth          []auth         `json:"auth"`
	Errors        []string       `json:"errors"`
	TokenRequests []tokenRequest `json:"tokenRequests"`
	Cache         []cacheEntry   `json:"cache"`
}

type report struct {
	RegisterError *string  `json:"registerError"`
	Lookups       []lookup `json:"lookups"`
}

// logged collects what the kubelet's code logs as errors (klog routed to a logr sink).
type logged struct {
	sync.Mutex
	errors        []string
	tokenRequests []tokenRequest
}

func (l *logged) take() ([]string, []tokenRequest) {
	l.Lock()
	defer l.Unlock()
	errs, requests := l.errors, l.tokenRequests
	l.errors, l.tokenRequests = nil, nil
	if errs == nil {
		errs = []string{}
	}
	if requests == nil {
		requests = []tokenRequest{}
	}
	return errs, requests
}

func main() {
	var images, annotations list
	config := flag.String("config", "", "CredentialProviderConfig file (--image-credential-provider-config)")
	binDir := flag.String("bin-dir", "", "provider directory (--image-credential-provider-bin-dir)")
	flag.Var(&images, "image", "image the pod pulls (repeatable; looked up in order in one kubelet)")
	saName := flag.String("sa-name", "", "the pod's service account (empty: none)")
	saNamespace := flag.String("sa-namespace", "default", "the pod's namespace")
	saUID := flag.String("sa-uid", "00000000-0000-0000-0000-0000000000aa", "the service account's UID")
	saToken := flag.String("sa-token", "", "the token the fake TokenRequest answers")
	flag.Var(&annotations, "sa-annotation", "KEY=VALUE annotation of the service account (repeatable)")
	podName := flag.String("pod-name", "pod", "the pod's name")
	podUID := flag.String("pod-uid", "00000000-0000-0000-0000-0000000000bb", "the pod's UID")
	flag.Parse()
	if *config == "" || *binDir == "" || len(images) == 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: kubelet-harness --config FILE --bin-dir DIR --image IMAGE... [--sa-name NAME ...]")
		os.Exit(2)
	}
	saAnnotations := map[string]string{}
	for _, a := range annotations {
		key, value, ok := strings.Cut(a, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "--sa-annotation %q: want KEY=VALUE\n", a)
			os.Exit(2)
		}
		saAnnotations[key] = value
	}

	sink := &logged{}
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("v", "5") // the kubelet logs a missing required annotation at V(5)
	klog.SetLogger(funcr.NewJSON(func(obj string) {
		var entry map[string]any
		if json.Unmarshal([]byte(obj), &entry) != nil {
			return
		}
		if _, isError := entry["error"]; !isError {
			return
		}
		sink.Lock()
		sink.errors = append(sink.errors, fmt.Sprintf("%v: %v", entry["msg"], entry["error"]))
		sink.Unlock()
	}, funcr.Options{Verbosity: 5}))

	getServiceAccount := func(namespace, name string) (*v1.ServiceAccount, error) {
		if name != *saName || namespace != *saNamespace {
			return nil, fmt.Errorf("serviceaccount %s/%s not found", namespace, name)
		}
		return &v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace, UID: types.UID(*saUID), Annotations: saAnnotations,
		}}, nil
	}
	getToken := func(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
		pod := ""
		if tr.Spec.BoundObjectRef != nil {
			pod = tr.Spec.BoundObjectRef.Name
		}
		sink.Lock()
		sink.tokenRequests = append(sink.tokenRequests, tokenRequest{namespace, name, tr.Spec.Audiences, pod})
		sink.Unlock()
		answer := tr.DeepCopy()
		answer.Status.Token = *saToken
		return answer, nil
	}

	out := report{Lookups: []lookup{}}
	if err := plugin.RegisterCredentialProviderPlugins(*config, *binDir, getToken, getServiceAccount); err != nil {
		msg := err.Error()
		out.RegisterError = &msg
		emit(out)
		return
	}

	for _, image := range images {
		l := lookup{Image: image, Auth: []auth{}}
		start := time.Now()
		repo, _, _, err := parsers.ParseImageName(image)
		if err != nil {
			l.ParseError = err.Error()
		} else {
			l.Repository = repo
			external := plugin.NewExternalCredentialProviderDockerKeyring(*saNamespace, *podName, *podUID, *saName)
			keyring, err := secrets.MakeDockerKeyring(nil, credentialprovider.UnionDockerKeyring{external})
			if err != nil {
				l.ParseError = err.Error()
			} else {
				found, _ := keyring.Lookup(repo)
				for _, c := range found {
					a := auth{Username: c.Username, PasswordLength: len(c.Password)}
					if c.Source != nil && c.Source.ServiceAccount != nil {
						sa := c.Source.ServiceAccount
						a.ServiceAccount = &serviceAccountID{sa.Namespace, sa.Name, sa.UID}
					}
					l.Auth = append(l.Auth, a)
				}
				l.Cache = cacheEntries(external, start.Add(time.Since(start)/2))
			}
		}
		if l.Cache == nil {
			l.Cache = []cacheEntry{}
		}
		l.Errors, l.TokenRequests = sink.take()
		out.Lookups = append(out.Lookups, l)
	}
	emit(out)
}

func emit(r report) {
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// field reads an unexported field of the struct that v (a pointer or an interface holding
// one) points to.
func field(v reflect.Value, name string) reflect.Value {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	f := v.FieldByName(name)
	if !f.IsValid() {
		panic(fmt.Sprintf("%s has no field %s: the kubelet's code changed shape", v.Type(), name))
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}

// cacheEntries lists the unexpired entries of every provider's cache, as
// externalCredentialProviderKeyring → perPodPluginProvider → pluginProvider.cache holds them.
func cacheEntries(keyring credentialprovider.DockerKeyring, at time.Time) []cacheEntry {
	entries := []cacheEntry{}
	providers := field(reflect.ValueOf(keyring), "providers")
	for i := 0; i < providers.Len(); i++ {
		p := field(providers.Index(i), "provider")
		name := field(p, "name").String()
		store := field(p, "cache").Interface().(interface{ List() []interface{} })
		for _, obj := range store.List() {
			o := reflect.ValueOf(obj)
			expiresAt := field(o, "expiresAt").Interface().(time.Time)
			config := field(o, "credentials").Interface().(credentialprovider.DockerConfig)
			base, sa := splitCacheKey(field(o, "key").String())
			registries := make([]string, 0, len(config))
			for registry := range config {
				registries = append(registries, registry)
			}
			sort.Strings(registries)
			entries = append(entries, cacheEntry{
				Provider: name, Key: base, ServiceAccount: sa, Registries: registries,
				Seconds: int64(math.Round(expiresAt.Sub(at).Seconds())),
			})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	return entries
}

// splitCacheKey undoes the kubelet's generateCacheKey: two uint16-length-prefixed strings, the
// base key (image, registry or "<global>") and the service-account key (generateServiceAccountCacheKey).
func splitCacheKey(key string) (string, *saCacheKey) {
	s := cryptobyte.String(key)
	var base, saKey cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&base) || !s.ReadUint16LengthPrefixed(&saKey) {
		return fmt.Sprintf("undecodable %q", key), nil
	}
	if len(saKey) == 0 {
		return string(base), nil
	}
	var ns, name, uid cryptobyte.String
	var count uint32
	sa := &saCacheKey{Annotations: map[string]string{}}
	if !saKey.ReadUint16LengthPrefixed(&ns) || !saKey.ReadUint16LengthPrefixed(&name) ||
		!saKey.ReadUint16LengthPrefixed(&uid) || !saKey.ReadUint32(&count) {
		return string(base), &saCacheKey{Name: fmt.Sprintf("undecodable %q", []byte(saKey))}
	}
	sa.Namespace, sa.Name, sa.UID = string(ns), string(name), string(uid)
	for ; count > 0; count-- {
		var k, v cryptobyte.String
		if !saKey.ReadUint16LengthPrefixed(&k) || !saKey.ReadUint16LengthPrefixed(&v) {
			break
		}
		sa.Annotations[string(k)] = string(v)
	}
	var marker, hash cryptobyte.String
	if saKey.ReadUint16LengthPrefixed(&marker) && string(marker) == "token" && saKey.ReadUint16LengthPrefixed(&hash) {
		sa.TokenHash = string(hash)
	}
	return string(base), sa
}
