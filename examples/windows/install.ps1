# Installs ecr-credential-provider.exe and its config on a Windows node, next to the kubelet's
# existing flags. Find them first:
#   (Get-CimInstance Win32_Service -Filter "Name='kubelet'").PathName
# and look for --image-credential-provider-bin-dir and --image-credential-provider-config.
param(
  [string]$BinDir = "C:\Program Files\kubernetes\credential-provider",
  [string]$Config = "C:\ProgramData\kubernetes\credential-provider-config.yaml"
)
$ErrorActionPreference = "Stop"
New-Item -ItemType Directory -Force -Path $BinDir | Out-Null
# The config names the provider ecr-credential-provider; the kubelet runs NAME.exe.
Copy-Item .\ecr-credential-provider.exe (Join-Path $BinDir "ecr-credential-provider.exe") -Force
Copy-Item .\credential-provider-config.yaml $Config -Force
& (Join-Path $BinDir "ecr-credential-provider.exe") config check $Config
Restart-Service kubelet
