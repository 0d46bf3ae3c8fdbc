// The functions' network when `vpc` is set: a new VPC (private subnets behind one NAT gateway whose
// Elastic IP is the functions' fixed egress address, for a Snowflake network policy) or an existing
// one; the functions' security group (HTTPS out, nothing in); optional interface endpoints for the
// AWS APIs the functions call; and Snowflake over AWS PrivateLink as Snowflake's guide "AWS
// PrivateLink and Snowflake" describes it: an interface endpoint to the account's endpoint service
// (SYSTEM$GET_PRIVATELINK_CONFIG's `privatelink-vpce-id`) and a private hosted zone
// privatelink.snowflakecomputing.com with a CNAME per privatelink host pointing at the endpoint.

import { Annotations, CfnOutput, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { checkovSkip, SKIPS } from './checkov';
import { NetworkConfig } from './config';
import { FunctionNetwork } from './step-lambda';

export const PRIVATELINK_ZONE = 'privatelink.snowflakecomputing.com';

export class Network extends Construct implements FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.SecurityGroup;
  /** The NAT gateway's Elastic IP (a new VPC only): the address Snowflake sees. */
  readonly egressIp?: ec2.CfnEIP;
  /** The interface endpoints by name (`secretsmanager`, ..., `snowflake`). */
  readonly endpoints: Record<string, ec2.CfnVPCEndpoint> = {};
  readonly privateLinkZone?: route53.PrivateHostedZone;

  constructor(scope: Construct, id: string, config: NetworkConfig) {
    super(scope, id);
    const stack = Stack.of(this);
    let subnetIds: string[];
    if (config.vpc.kind === 'new') {
      this.egressIp = new ec2.CfnEIP(this, 'NatEgressIp', {
        domain: 'vpc',
        tags: [{ key: 'Name', value: `${stack.stackName} NAT egress (Snowflake network policy)` }],
      });
      const vpc = new ec2.Vpc(this, 'Vpc', {
        ipAddresses: ec2.IpAddresses.cidr(config.vpc.cidr),
        maxAzs: 2,
        // One NAT gateway with an address of our own: the one IP a network policy has to allow.
        natGateways: 1,
        natGatewayProvider: ec2.NatProvider.gateway({ eipAllocationIds: [this.egressIp.attrAllocationId] }),
        subnetConfiguration: [
          { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
          { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        ],
        // True would add a custom-resource Lambda (Node.js) to strip the default security group;
        // nothing here uses that group.
        restrictDefaultSecurityGroup: false,
      });
      // Rejected flows only: enough to see what a security group or NACL refused, at little cost.
      const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH });
      checkovSkip(flowLogs, SKIPS.logGroupKms);
      vpc.addFlowLog('RejectedFlows', {
        trafficType: ec2.FlowLogTrafficType.REJECT,
        destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      });
      this.vpc = vpc;
      this.subnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
      subnetIds = vpc.privateSubnets.map((s) => s.subnetId);
      new CfnOutput(stack, 'EgressIp', {
        value: this.egressIp.ref,
        description: 'The functions reach Snowflake from this address: allow it in the Snowflake network policy',
      });
    } else {
      // Attributes only, no lookup: synth needs no AWS credentials. The subnets are the caller's
      // private subnets, with a route to a NAT gateway or to the endpoints below.
      // The region's zones as a token: nothing here selects subnets by zone.
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: config.vpc.vpcId, availabilityZones: Fn.getAzs() });
      Annotations.of(this).acknowledgeWarning('@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
        'only the VPC id is used: subnets are given by id, nothing selects them by zone');
      Annotations.of(this).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId',
        'the stack adds no routes to the given subnets');
      subnetIds = config.vpc.subnetIds;
      this.subnets = { subnets: subnetIds.map((sid, i) => ec2.Subnet.fromSubnetId(this, `Subnet${i}`, sid)) };
    }

    this.securityGroup = new ec2.SecurityGroup(this, 'FunctionsSecurityGroup', {
      vpc: this.vpc,
      description: 'postetl functions: HTTPS out (Snowflake, AWS APIs), nothing in',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Snowflake and the AWS APIs');

    const needsEndpointGroup = config.endpoints.length > 0 || config.privateLink?.serviceName;
    const endpointGroup = needsEndpointGroup
      ? new ec2.SecurityGroup(this, 'EndpointsSecurityGroup', {
        vpc: this.vpc,
        description: 'postetl interface endpoints: HTTPS from the postetl functions only',
        allowAllOutbound: false,
      })
      : undefined;
    endpointGroup?.addIngressRule(this.securityGroup, ec2.Port.tcp(443), 'HTTPS from the postetl functions');
    const endpoint = (name: string, serviceName: string, privateDnsEnabled: boolean) => {
      this.endpoints[name] = new ec2.CfnVPCEndpoint(this, `${name[0].toUpperCase()}${name.slice(1)}Endpoint`, {
        vpcId: this.vpc.vpcId,
        serviceName,
        vpcEndpointType: 'Interface',
        privateDnsEnabled,
        subnetIds,
        securityGroupIds: [endpointGroup!.securityGroupId],
      });
      return this.endpoints[name];
    };
    // Private DNS: the SDK's default regional hosts resolve to the endpoints, no code change.
    for (const name of config.endpoints) endpoint(name, `com.amazonaws.${stack.region}.${name}`, true);

    const privateLink = config.privateLink;
    if (privateLink) {
      let endpointDns = privateLink.endpointDns;
      if (privateLink.serviceName) {
        // Snowflake's service has no private DNS name of its own: the zone below is the DNS.
        // Port 443 only: 80 serves the OCSP checks of Snowflake's drivers, which this client
        // (rustls with its own roots) does not make.
        const ep = endpoint('snowflake', privateLink.serviceName, false);
        // The first entry is the regional name, as "<hosted zone id>:<dns name>".
        endpointDns = Fn.select(1, Fn.split(':', Fn.select(0, ep.attrDnsEntries)));
        new CfnOutput(stack, 'SnowflakePrivateLinkEndpointId', { value: ep.ref });
      }
      if (privateLink.hosts.length > 0 && endpointDns) {
        this.privateLinkZone = new route53.PrivateHostedZone(this, 'PrivateLinkZone', {
          zoneName: PRIVATELINK_ZONE,
          vpc: this.vpc,
          comment: 'postetl: the Snowflake account\'s privatelink hosts, to its interface endpoint',
        });
        privateLink.hosts.forEach((host, i) => {
          new route53.CnameRecord(this, `PrivateLinkHost${i}`, {
            zone: this.privateLinkZone!,
            recordName: `${host}.`,
            domainName: endpointDns!,
            ttl: Duration.minutes(5),
          });
        });
      }
    }

    new CfnOutput(stack, 'FunctionsSecurityGroupId', { value: this.securityGroup.securityGroupId });
  }
}
