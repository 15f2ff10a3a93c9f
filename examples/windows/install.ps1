# Installs ecr-credential-provider.exe and its config on a Windows node, where the running
# kubelet's --image-credential-provider-bin-dir and --image-credential-provider-config point
# (or where -BinDir and -Config say), then restarts the kubelet. The new binary is proven
# first: it runs here, and the config passes `config check` with it under the provider's name.
# A failure stops before anything the kubelet reads has changed.
#   .\install.ps1 [-Binary FILE] [-ConfigSource FILE] [-BinDir DIR] [-Config FILE]
# Windows PowerShell 5.1 does not stop on a native command's non-zero exit, whatever
# $ErrorActionPreference says: each native command's $LASTEXITCODE is checked where it runs.
param(
  # The release asset, as scripts/release names it.
  [string]$Binary = ".\ecr-credential-provider-windows-amd64.exe",
  [string]$ConfigSource = ".\credential-provider-config.yaml",
  # Empty: the running kubelet's --image-credential-provider-bin-dir.
  [string]$BinDir = "",
  # Empty: the running kubelet's --image-credential-provider-config.
  [string]$Config = ""
)
$ErrorActionPreference = "Stop"
# The config names the provider ecr-credential-provider; the kubelet runs NAME.exe.
$name = "ecr-credential-provider"

# A flag's value on the running kubelet's command line: --FLAG=VALUE or --FLAG VALUE, maybe quoted.
function Get-KubeletFlag([string]$Flag) {
  $kubelet = Get-CimInstance Win32_Process -Filter "Name='kubelet.exe'" | Select-Object -First 1
  if (-not $kubelet) {
    throw "the kubelet is not running: give -BinDir and -Config"
  }
  if ($kubelet.CommandLine -match ('--' + $Flag + '(=|\s+)("([^"]+)"|(\S+))')) {
    if ($Matches[3]) { return $Matches[3] }
    return $Matches[4]
  }
  throw "the kubelet runs without --${Flag}: add it to the kubelet's flags first"
}

if (-not $BinDir) { $BinDir = Get-KubeletFlag "image-credential-provider-bin-dir" }
if (-not $Config) { $Config = Get-KubeletFlag "image-credential-provider-config" }
# Created nowhere: a directory the kubelet does not use would hold a binary it never runs.
if (-not (Test-Path -PathType Container $BinDir)) {
  throw "no directory ${BinDir}: give the kubelet's --image-credential-provider-bin-dir"
}
if (-not (Test-Path -PathType Container (Split-Path -Parent $Config))) {
  throw "no directory for ${Config}: give the kubelet's --image-credential-provider-config"
}
$exe = Join-Path $BinDir "$name.exe"

$work = Join-Path ([System.IO.Path]::GetTempPath()) ("$name-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $work | Out-Null
try {
  $new = Join-Path $work "$name.exe"
  $newConfig = Join-Path $work "config.yaml"
  Copy-Item $Binary $new
  Copy-Item $ConfigSource $newConfig
  & $new --version
  if ($LASTEXITCODE -ne 0) { throw "$Binary does not run on this node (exit $LASTEXITCODE): nothing changed" }
  & $new config check $newConfig --bin-dir $work
  if ($LASTEXITCODE -ne 0) { throw "config check failed (exit $LASTEXITCODE): nothing changed" }

  # Proven: keep the distribution's binary once, then move each new file into place.
  if ((Test-Path $exe) -and -not (Test-Path "$exe.dist")) { Copy-Item $exe "$exe.dist" }
  Copy-Item $new "$exe.new" -Force
  Move-Item "$exe.new" $exe -Force
  Copy-Item $newConfig "$Config.new" -Force
  Move-Item "$Config.new" $Config -Force
} finally {
  Remove-Item -Recurse -Force $work
}
# The kubelet reads its config only when it starts.
Restart-Service kubelet
