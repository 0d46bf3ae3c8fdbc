// The VPC option: a new VPC with a fixed egress address or an existing one, the functions in private
// subnets, the interface endpoints, and Snowflake over PrivateLink with its private hosted zone.

import { FINALIZE, STEPS } from '../lib/step-lambda';
import { resources, roleStatements, synth, Synth } from './helpers';

const SERVICE = 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0';
const HOSTS = ['xy12345.eu-west-1.privatelink.snowflakecomputing.com', 'myorg-myacct.privatelink.snowflakecomputing.com',
  'ocsp.myorg-myacct.privatelink.snowflakecomputing.com'];
const ENDPOINT_DNS = 'vpce-0123456789abcdef0-abcdefgh.vpce-svc-0123456789abcdef0.eu-west-1.vpce.amazonaws.com';
const ENI_ACTIONS = [
  'ec2:AssignPrivateIpAddresses', 'ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface',
  'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:UnassignPrivateIpAddresses',
];

const functions = (s: Synth) => [...STEPS.map((x) => s.stack.steps[x.id]), s.stack.finalize];
const only = (s: Synth, type: string) => {
  const found = Object.entries(resources(s, type));
  expect([type, found.length]).toEqual([type, 1]);
  return found[0];
};

describe('no vpc (the default)', () => {
  test('no network resource, no function in a VPC, no ENI permission', () => {
    const s = synth();
    expect(Object.values(s.json.Resources).filter((r) => /^AWS::(EC2|Route53)::/.test(r.Type))).toEqual([]);
    for (const fn of Object.values(resources(s, 'AWS::Lambda::Function'))) expect(fn.Properties.VpcConfig).toBeUndefined();
    expect(JSON.stringify(s.json)).not.toMatch(/ec2:CreateNetworkInterface/);
  });
});

describe('vpc=new', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth({ vpc: 'new', vpcCidr: '10.42.0.0/16' });
  });

  test('one NAT gateway whose Elastic IP is the stack output EgressIp', () => {
    const [eipId, eip] = only(s, 'AWS::EC2::EIP');
    expect(eip.Properties.Domain).toBe('vpc');
    const [, nat] = only(s, 'AWS::EC2::NatGateway');
    expect(nat.Properties.AllocationId).toEqual({ 'Fn::GetAtt': [eipId, 'AllocationId'] });
    expect(s.json.Outputs!.EgressIp.Value).toEqual({ Ref: eipId });
    expect(only(s, 'AWS::EC2::VPC')[1].Properties.CidrBlock).toBe('10.42.0.0/16');
  });

  test('every function in the two private subnets (routed to the NAT), with the functions\' security group', () => {
    const privateSubnets = Object.entries(resources(s, 'AWS::EC2::Subnet'))
      .filter(([, sn]) => sn.Properties.MapPublicIpOnLaunch === false && JSON.stringify(sn.Properties.Tags).includes('Private'));
    expect(privateSubnets).toHaveLength(2);
    const natId = only(s, 'AWS::EC2::NatGateway')[0];
    const natRoutes = Object.values(resources(s, 'AWS::EC2::Route')).filter((r) => r.Properties.NatGatewayId);
    expect(natRoutes).toHaveLength(2);
    for (const r of natRoutes) expect(r.Properties.NatGatewayId).toEqual({ Ref: natId });
    const sg = s.id(s.stack.network!.securityGroup);
    for (const step of functions(s)) {
      expect(s.json.Resources[s.id(step.function)].Properties.VpcConfig).toEqual({
        SubnetIds: privateSubnets.map(([id]) => ({ Ref: id })),
        SecurityGroupIds: [{ 'Fn::GetAtt': [sg, 'GroupId'] }],
      });
    }
  });

  test('the functions\' security group: HTTPS out only, nothing in', () => {
    const sg = s.json.Resources[s.id(s.stack.network!.securityGroup)].Properties;
    expect(sg.SecurityGroupEgress).toEqual([
      { CidrIp: '0.0.0.0/0', Description: 'HTTPS to Snowflake and the AWS APIs', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
    ]);
    expect(sg.SecurityGroupIngress).toBeUndefined();
    const ingress = Object.values(resources(s, 'AWS::EC2::SecurityGroupIngress'))
      .filter((i) => JSON.stringify(i.Properties.GroupId).includes(s.id(s.stack.network!.securityGroup)));
    expect(ingress).toEqual([]);
  });

  test('each function role may manage its network interfaces (what Lambda needs in a VPC), nothing else added', () => {
    const plain = synth();
    for (const spec of [...STEPS, FINALIZE]) {
      const roleOf = (t: Synth) => t.id((spec === FINALIZE ? t.stack.finalize : t.stack.steps[spec.id]).role);
      // Flattened to action@resource: the policy minimizer merges the ENI actions with X-Ray's (both on '*').
      const flat = (t: Synth) => (roleStatements(t, roleOf(t)) as any[]).flatMap((st) => [st.Action].flat().flatMap((a: string) =>
        [st.Resource].flat().map((r: unknown) => `${st.Effect} ${a} @ ${JSON.stringify(r)} ${JSON.stringify(st.Condition ?? {})}`)));
      const added = flat(s).filter((x) => !flat(plain).includes(x)).sort();
      expect([spec.id, added]).toEqual([spec.id, ENI_ACTIONS.map((a) => `Allow ${a} @ "*" {}`)]);
      expect([spec.id, flat(plain).filter((x) => !flat(s).includes(x))]).toEqual([spec.id, []]);
      expect(s.json.Resources[roleOf(s)].Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  test('rejected flows are logged for a month', () => {
    const [, flowLog] = only(s, 'AWS::EC2::FlowLog');
    expect(flowLog.Properties).toMatchObject({ TrafficType: 'REJECT', LogDestinationType: 'cloud-watch-logs' });
  });

  test('no interface endpoint and no hosted zone unless asked for', () => {
    s.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    s.template.resourceCountIs('AWS::Route53::HostedZone', 0);
  });
});

describe('vpc=<id> (an existing VPC)', () => {
  test('no VPC, NAT or Elastic IP created; the functions in the given subnets; no EgressIp output', () => {
    const s = synth({ vpc: 'vpc-0123456789abcdef0', vpcSubnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1' });
    for (const type of ['AWS::EC2::VPC', 'AWS::EC2::NatGateway', 'AWS::EC2::EIP', 'AWS::EC2::Subnet']) s.template.resourceCountIs(type, 0);
    expect(s.json.Outputs!.EgressIp).toBeUndefined();
    const sgId = s.id(s.stack.network!.securityGroup);
    expect(s.json.Resources[sgId].Properties.VpcId).toBe('vpc-0123456789abcdef0');
    for (const step of functions(s)) {
      expect(s.json.Resources[s.id(step.function)].Properties.VpcConfig).toEqual({
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        SecurityGroupIds: [{ 'Fn::GetAtt': [sgId, 'GroupId'] }],
      });
    }
  });
});

describe('interface endpoints (vpcEndpoints)', () => {
  test('all: Secrets Manager, STS, Step Functions, Glue and SNS, private DNS on, HTTPS from the functions only', () => {
    const s = synth({ vpc: 'vpc-0123456789abcdef0', vpcSubnetIds: 'subnet-0123456789abcdef0', vpcEndpoints: 'all' });
    const endpoints = Object.values(resources(s, 'AWS::EC2::VPCEndpoint')).map((e) => e.Properties);
    expect(endpoints.map((e) => e.ServiceName).sort()).toEqual(
      ['glue', 'secretsmanager', 'sns', 'states', 'sts'].map((x) => `com.amazonaws.eu-west-1.${x}`));
    const [ingressId, ingress] = only(s, 'AWS::EC2::SecurityGroupIngress');
    expect(ingressId).toBeDefined();
    expect(ingress.Properties).toMatchObject({
      IpProtocol: 'tcp', FromPort: 443, ToPort: 443,
      SourceSecurityGroupId: { 'Fn::GetAtt': [s.id(s.stack.network!.securityGroup), 'GroupId'] },
    });
    for (const e of endpoints) {
      expect(e).toMatchObject({
        VpcEndpointType: 'Interface', PrivateDnsEnabled: true, VpcId: 'vpc-0123456789abcdef0',
        SubnetIds: ['subnet-0123456789abcdef0'], SecurityGroupIds: [ingress.Properties.GroupId],
      });
    }
  });

  test('a subset by name', () => {
    const s = synth({ vpc: 'new', vpcEndpoints: 'sts,secretsmanager' });
    expect(Object.values(resources(s, 'AWS::EC2::VPCEndpoint')).map((e) => e.Properties.ServiceName).sort())
      .toEqual(['com.amazonaws.eu-west-1.secretsmanager', 'com.amazonaws.eu-west-1.sts']);
  });
});

describe('snowflakePrivateLink', () => {
  test('a new endpoint to the account\'s service, and the zone privatelink.snowflakecomputing.com with a CNAME per host to it', () => {
    const s = synth({ vpc: 'new', snowflakePrivateLink: 'true', snowflakePrivateLinkService: SERVICE, snowflakePrivateLinkHosts: HOSTS.join(',') });
    const [endpointId, endpoint] = only(s, 'AWS::EC2::VPCEndpoint');
    const vpcId = only(s, 'AWS::EC2::VPC')[0];
    expect(endpoint.Properties).toMatchObject({
      ServiceName: SERVICE, VpcEndpointType: 'Interface', PrivateDnsEnabled: false, VpcId: { Ref: vpcId },
    });
    const [zoneId, zone] = only(s, 'AWS::Route53::HostedZone');
    expect(zone.Properties).toMatchObject({
      Name: 'privatelink.snowflakecomputing.com.',
      VPCs: [{ VPCId: { Ref: vpcId }, VPCRegion: 'eu-west-1' }],
    });
    const endpointDns = { 'Fn::Select': [1, { 'Fn::Split': [':', { 'Fn::Select': [0, { 'Fn::GetAtt': [endpointId, 'DnsEntries'] }] }] }] };
    const records = Object.values(resources(s, 'AWS::Route53::RecordSet')).map((r) => r.Properties);
    expect(records).toEqual(HOSTS.map((h) => ({
      HostedZoneId: { Ref: zoneId }, Name: `${h}.`, Type: 'CNAME', TTL: '300', ResourceRecords: [endpointDns],
    })));
    expect(s.json.Outputs!.SnowflakePrivateLinkEndpointId.Value).toEqual({ Ref: endpointId });
    for (const step of functions(s).filter((f) => f !== s.stack.steps.Plan)) {
      expect(s.json.Resources[s.id(step.function)].Properties.Environment.Variables.SNOWFLAKE_PRIVATE_LINK).toBe('true');
    }
  });

  test('an existing endpoint: only the zone and its CNAMEs, to the given DNS name', () => {
    const s = synth({
      vpc: 'vpc-0123456789abcdef0', vpcSubnetIds: 'subnet-0123456789abcdef0', snowflakePrivateLink: 'true',
      snowflakePrivateLinkEndpointDns: ENDPOINT_DNS, snowflakePrivateLinkHosts: HOSTS[1],
    });
    s.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    const [, zone] = only(s, 'AWS::Route53::HostedZone');
    expect(zone.Properties.VPCs).toEqual([{ VPCId: 'vpc-0123456789abcdef0', VPCRegion: 'eu-west-1' }]);
    expect(only(s, 'AWS::Route53::RecordSet')[1].Properties).toMatchObject({
      Name: `${HOSTS[1]}.`, Type: 'CNAME', ResourceRecords: [ENDPOINT_DNS],
    });
  });

  test('DNS that exists already: neither endpoint nor zone, only SNOWFLAKE_PRIVATE_LINK', () => {
    const s = synth({ vpc: 'new', snowflakePrivateLink: 'true' });
    s.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    s.template.resourceCountIs('AWS::Route53::HostedZone', 0);
    expect(s.json.Resources[s.id(s.stack.steps.RunMerge.function)].Properties.Environment.Variables.SNOWFLAKE_PRIVATE_LINK).toBe('true');
  });

  test('without a VPC the synth fails (the endpoint would be unreachable)', () => {
    expect(() => synth({ snowflakePrivateLink: 'true' })).toThrow(/snowflakePrivateLink: needs vpc/);
  });
});
