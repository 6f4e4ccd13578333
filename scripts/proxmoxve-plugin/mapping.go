package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The Pulumi package these resources belong to: the npm SDK @muhlba91/pulumi-proxmoxve asks the engine for it.
const pkgName = "proxmoxve"

// A Terraform resource of bpg's provider and the type token the npm SDK gives it (its class's __pulumiType), split as
// tfbridge.MakeResource takes it: module and resource name.
type mapped struct {
	tf, module, name string
	// idField: the name the SDK gives a Plugin Framework resource's own "id" input (Pulumi reserves "id").
	idField string
}

// Every resource ai-dualstack creates (the engine test holds this list, through the plugin's schema, to the plans of
// every shipped and example stack: test/engine/plugin-coverage.ts). The "Legacy" ones are bpg's SDKv2 resources (proxmox_virtual_environment_*), the rest its
// Plugin Framework ones.
var resources = []mapped{
	{tf: "proxmox_virtual_environment_vm", module: "index", name: "VmLegacy"},
	{tf: "proxmox_virtual_environment_container", module: "index", name: "ContainerLegacy"},
	{tf: "proxmox_virtual_environment_file", module: "index", name: "FileLegacy"},
	{tf: "proxmox_virtual_environment_pool", module: "index", name: "PoolLegacy"},
	{tf: "proxmox_virtual_environment_role", module: "index", name: "RoleLegacy"},
	{tf: "proxmox_virtual_environment_user", module: "index", name: "UserLegacy"},
	{tf: "proxmox_virtual_environment_cluster_firewall", module: "cluster", name: "FirewallLegacy"},
	{tf: "proxmox_virtual_environment_cluster_firewall_security_group", module: "cluster/firewall/security", name: "GroupLegacy"},
	{tf: "proxmox_virtual_environment_firewall_ipset", module: "firewall", name: "IpsetLegacy"},
	{tf: "proxmox_virtual_environment_firewall_options", module: "firewall", name: "OptionsLegacy"},
	{tf: "proxmox_virtual_environment_firewall_rules", module: "firewall", name: "RulesLegacy"},
	{tf: "proxmox_acl", module: "index", name: "Acl"},
	{tf: "proxmox_user_token", module: "user", name: "Token"},
	{tf: "proxmox_backup_job", module: "backup", name: "Job", idField: "resourceId"},
	{tf: "proxmox_download_file", module: "download", name: "File"},
	{tf: "proxmox_hardware_mapping_pci", module: "hardware/mapping", name: "Pci"},
	{tf: "proxmox_network_linux_bridge", module: "network/linux", name: "Bridge"},
	{tf: "proxmox_network_linux_vlan", module: "network/linux", name: "Vlan"},
	{tf: "proxmox_storage_directory", module: "storage", name: "Directory", idField: "resourceId"},
	{tf: "proxmox_storage_pbs", module: "storage", name: "Pbs", idField: "resourceId"},
	{tf: "proxmox_storage_zfspool", module: "storage", name: "Zfspool", idField: "resourceId"},
}

// resourceInfos: the bridge's table, TF type name → token (and the id rename where the resource has its own id).
func resourceInfos() map[string]*tfbridge.ResourceInfo {
	out := map[string]*tfbridge.ResourceInfo{}
	for _, r := range resources {
		info := &tfbridge.ResourceInfo{Tok: tfbridge.MakeResource(pkgName, r.module, r.name)}
		if r.idField != "" {
			info.Fields = map[string]*tfbridge.SchemaInfo{"id": {Name: r.idField}}
			info.ComputeID = tfbridge.DelegateIDField(resource.PropertyKey(r.idField), pkgName, "https://github.com/bpg/terraform-provider-proxmox")
		}
		out[r.tf] = info
	}
	return out
}
